{#- One row per order line, keyed to the product and customer versions valid when the order was placed; the cost
    of the product version gives the line's margin. -#}
with items as (
    select * from {{ ref('int_order_items_matched_to_product_versions') }}
),

orders as (
    select * from {{ ref('fct_orders') }}
),

final as (
    select
        items.order_id,
        items.line_no,
        orders.customer_key,
        items.product_key,
        items.product_id,
        items.order_date,
        orders.status,
        items.quantity,
        items.unit_price,
        items.unit_cost,
        items.gross_amount,
        items.discount_amount,
        items.net_amount,
        items.net_amount - items.quantity * items.unit_cost as margin_amount
    from items
    inner join orders on items.order_id = orders.order_id
)

select * from final
