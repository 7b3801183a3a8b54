with source as (
    select * from {{ source('silver', 'products') }}
),

renamed as (
    select
        product_id,
        sku,
        name as product_name,
        category,
        subcategory,
        brand,
        price,
        cost,
        active as is_active,
        -- dbt's snapshot columns are plain timestamps: hand it UTC without the zone, the same on DuckDB and Trino.
        cast(updated_at at time zone 'UTC' as timestamp) as updated_at
    from source
)

select * from renamed
