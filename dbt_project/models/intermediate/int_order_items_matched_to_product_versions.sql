{#- Every order line with the product version that was valid when its order was placed, and that version's cost. -#}
with items as (
    select * from {{ ref('stg_order_items') }}
),

orders as (
    select * from {{ ref('stg_orders') }}
),

products as (
    select * from {{ ref('int_products_versioned') }}
),

final as (
    select
        items.order_id,
        items.line_no,
        products.product_key,
        items.product_id,
        items.order_date,
        orders.order_ts,
        items.quantity,
        items.unit_price,
        products.cost as unit_cost,
        items.gross_amount,
        items.discount_amount,
        items.net_amount
    from items
    inner join orders on items.order_id = orders.order_id
    left join products
        on
            items.product_id = products.product_id
            and {{ valid_at('products', 'orders.order_ts') }}
)

select * from final
