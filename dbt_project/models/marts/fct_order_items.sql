{#- One row per order line, keyed to the product and customer versions valid when the order was placed; the cost
    of the product version gives the line's margin. Incremental: a run rebuilds the lines of the orders that arrived
    or changed status. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='order_id',
        pre_hook="{{ record_rebuilt(touched('orders')) }}",
    )
}}
-- depends_on: {{ ref('stg_orders') }}
with items as (
    select * from {{ ref('int_order_items_matched_to_product_versions') }}
    {% if is_incremental() -%}
        where order_id in ({{ touched('orders') }})
    {%- endif %}
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
