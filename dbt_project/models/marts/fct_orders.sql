{#- One row per order, keyed to the customer version that was valid when the order was placed. Incremental: a run
    rebuilds the orders that arrived or changed status (macros/incremental.sql). -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='order_id',
        pre_hook="{{ record_rebuilt(touched('orders')) }}",
    )
}}
-- depends_on: {{ ref('stg_orders') }}
with orders as (
    select * from {{ ref('int_orders_matched_to_customer_versions') }}
    {% if is_incremental() -%}
        where _batch_id > {{ since_batch() }}
    {%- endif %}
),

final as (
    select
        order_id,
        customer_key,
        customer_id,
        order_date,
        order_ts,
        status,
        payment_method,
        channel,
        shipping_country,
        currency,
        item_count,
        units,
        gross_amount,
        discount_amount,
        shipping_amount,
        net_amount,
        net_amount + shipping_amount as order_total,
        status = 'cancelled' as is_cancelled,
        status = 'returned' as is_returned,
        {{ order_milestones() }}
    from orders
)

select * from final
