with source as (
    select * from {{ source('silver', 'order_items') }}
),

renamed as (
    select
        order_id,
        line_no,
        product_id,
        sku,
        quantity,
        unit_price,
        gross_amount,
        discount_amount,
        net_amount,
        order_date
    from source
)

select * from renamed
