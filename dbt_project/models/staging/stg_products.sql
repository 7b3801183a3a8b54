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
        -- dbt's snapshot columns are plain timestamps: hand it UTC without the zone (timestamp(6) on Trino).
        {{ utc_timestamp('updated_at') }} as updated_at
    from source
)

select * from renamed
