{#- Sales per order day, country and city of the customer (as the customer's address stood when ordering): orders,
    customers, units and net revenue of the orders that were not cancelled. Incremental: a run rebuilds the days of
    the orders that arrived or changed status. -#}
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
    where not is_cancelled
    {%- if is_incremental() %}
        and order_date in ({{ touched_days('order_days') }})
    {%- endif %}
),

final as (
    select
        orders.order_date,
        customers.country,
        customers.city,
        count(*) as orders,
        count(distinct orders.customer_id) as customers,
        sum(orders.units) as units,
        sum(orders.net_amount) as net_revenue,
        sum(orders.shipping_amount) as shipping
    from orders
    inner join {{ ref('dim_customers') }} as customers on orders.customer_key = customers.customer_key
    group by 1, 2, 3
)

select * from final
