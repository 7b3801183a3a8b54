{#- Sales per day, country, channel and payment method: what the executive dashboard slices. Revenue counts orders
    that were not cancelled; returns are shown apart. Incremental: a run rebuilds the days of the orders that
    arrived or changed status. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='order_date',
        pre_hook="{{ record_rebuilt(touched('order_days')) }}",
    )
}}
-- depends_on: {{ ref('stg_orders') }}
with orders as (
    select * from {{ ref('fct_orders') }}
    {% if is_incremental() -%}
        where order_date in ({{ touched_days('order_days') }})
    {%- endif %}
),

customers as (
    select * from {{ ref('dim_customers') }}
),

final as (
    select
        orders.order_date,
        customers.country,
        orders.channel,
        orders.payment_method,
        count(*) as orders,
        sum(case when orders.is_cancelled then 0 else 1 end) as valid_orders,
        sum(case when orders.is_cancelled then 1 else 0 end) as cancelled_orders,
        sum(case when orders.is_returned then 1 else 0 end) as returned_orders,
        count(distinct orders.customer_id) as customers,
        sum(case when orders.is_cancelled then 0 else orders.units end) as units,
        sum(case when orders.is_cancelled then 0 else orders.gross_amount end) as gross_revenue,
        sum(case when orders.is_cancelled then 0 else orders.discount_amount end) as discounts,
        sum(case when orders.is_cancelled then 0 else orders.shipping_amount end) as shipping,
        sum(case when orders.is_cancelled then 0 else orders.net_amount end) as net_revenue,
        sum(case when orders.is_returned then orders.net_amount else 0 end) as returned_revenue
    from orders
    inner join customers on orders.customer_key = customers.customer_key
    group by 1, 2, 3, 4
)

select * from final
