{#- Fulfilment per order day and shipping country: how many orders were paid, shipped, delivered, cancelled and
    returned, how long each step took (exact median and 90th percentile, in hours from the order), and how many
    shipments broke the shop's promise to dispatch within var('ship_promise_hours') of payment. Incremental: a run
    rebuilds the order days whose orders arrived or changed status. -#}
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
    select
        order_date,
        shipping_country,
        order_ts,
        paid_at,
        shipped_at,
        delivered_at,
        is_cancelled,
        is_returned,
        {{ hours_between('order_ts', 'paid_at') }} as hours_to_paid,
        {{ hours_between('order_ts', 'shipped_at') }} as hours_to_shipped,
        {{ hours_between('order_ts', 'delivered_at') }} as hours_to_delivered,
        {{ hours_between('paid_at', 'shipped_at') }} as hours_paid_to_shipped
    from {{ ref('fct_orders') }}
    {% if is_incremental() -%}
        where order_date in ({{ touched_days('order_days') }})
    {%- endif %}
),

counts as (
    select
        order_date,
        shipping_country,
        count(*) as orders,
        count(paid_at) as paid_orders,
        count(shipped_at) as shipped_orders,
        count(delivered_at) as delivered_orders,
        count(case when is_cancelled then 1 end) as cancelled_orders,
        count(case when is_returned then 1 end) as returned_orders,
        count(case when hours_paid_to_shipped > {{ var('ship_promise_hours') }} then 1 end)
            as shipped_late_orders,
        count(case when paid_at is not null and shipped_at is null and not is_cancelled then 1 end)
            as awaiting_shipment_orders
    from orders
    group by 1, 2
),

durations as (
    select
        order_date,
        shipping_country,
        'paid' as measure,
        hours_to_paid as measured
    from orders
    union all
    select
        order_date,
        shipping_country,
        'shipped' as measure,
        hours_to_shipped as measured
    from orders
    union all
    select
        order_date,
        shipping_country,
        'delivered' as measure,
        hours_to_delivered as measured
    from orders
    union all
    select
        order_date,
        shipping_country,
        'paid_to_shipped' as measure,
        hours_paid_to_shipped as measured
    from orders
),

ranked as (
    {{ ranked_measures('durations', ['order_date', 'shipping_country']) }}
),

percentiles as (
    select
        order_date,
        shipping_country,
        {{ percentile_of('paid', 0.5) }} as median_hours_to_paid,
        {{ percentile_of('shipped', 0.5) }} as median_hours_to_shipped,
        {{ percentile_of('shipped', 0.9) }} as p90_hours_to_shipped,
        {{ percentile_of('delivered', 0.5) }} as median_hours_to_delivered,
        {{ percentile_of('delivered', 0.9) }} as p90_hours_to_delivered,
        {{ percentile_of('paid_to_shipped', 0.5) }} as median_hours_paid_to_shipped,
        {{ percentile_of('paid_to_shipped', 0.9) }} as p90_hours_paid_to_shipped
    from ranked
    group by 1, 2
),

final as (
    select
        counts.*,
        percentiles.median_hours_to_paid,
        percentiles.median_hours_to_shipped,
        percentiles.p90_hours_to_shipped,
        percentiles.median_hours_to_delivered,
        percentiles.p90_hours_to_delivered,
        percentiles.median_hours_paid_to_shipped,
        percentiles.p90_hours_paid_to_shipped
    from counts
    left join percentiles
        on
            counts.order_date = percentiles.order_date
            and counts.shipping_country = percentiles.shipping_country
)

select * from final
