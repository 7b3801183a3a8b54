{#- One row per order line, keyed to the product and customer versions valid when the order was placed; the cost
    of the product version gives the line's margin. -#}
with items as (
    select * from {{ ref('stg_order_items') }}
),

orders as (
    select * from {{ ref('fct_orders') }}
),

products as (
    select * from {{ ref('dim_products') }}
),

final as (
    select
        items.order_id,
        items.line_no,
        orders.customer_key,
        products.product_key,
        items.product_id,
        items.order_date,
        orders.status,
        items.quantity,
        items.unit_price,
        products.cost as unit_cost,
        items.gross_amount,
        items.discount_amount,
        items.net_amount,
        items.net_amount - items.quantity * products.cost as margin_amount
    from items
    inner join orders on items.order_id = orders.order_id
    left join products
        on
            items.product_id = products.product_id
            and orders.order_ts >= products.valid_from
            and (orders.order_ts < products.valid_to or products.valid_to is null)
)

select * from final
