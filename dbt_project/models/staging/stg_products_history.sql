with source as (
    select * from {{ source('silver', 'products_history') }}
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
        updated_at
    from source
)

select * from renamed
