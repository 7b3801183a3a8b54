{#- The purchase funnel per day, counted in sessions: any visit → product view → cart → checkout → purchase, with
    each step's conversion from the one before and the share that dropped off there. Incremental: a run rebuilds
    the days that received events. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='session_date',
        pre_hook="{{ record_rebuilt(touched('event_days')) }}",
    )
}}
-- depends_on: {{ ref('stg_events') }}
with sessions as (
    select * from {{ ref('fct_sessions') }}
    {% if is_incremental() -%}
        where session_date in ({{ touched_days('event_days') }})
    {%- endif %}
),

steps as (
    select
        session_date,
        count(*) as sessions,
        sum(case when product_views > 0 then 1 else 0 end) as product_view_sessions,
        sum(case when reached_cart then 1 else 0 end) as cart_sessions,
        sum(case when reached_checkout then 1 else 0 end) as checkout_sessions,
        sum(case when converted then 1 else 0 end) as purchase_sessions
    from sessions
    group by 1
),

final as (
    select
        session_date,
        sessions,
        product_view_sessions,
        cart_sessions,
        checkout_sessions,
        purchase_sessions,
        cast(product_view_sessions as double) / nullif(sessions, 0) as view_rate,
        cast(cart_sessions as double) / nullif(product_view_sessions, 0) as view_to_cart_rate,
        cast(checkout_sessions as double) / nullif(cart_sessions, 0) as cart_to_checkout_rate,
        cast(purchase_sessions as double) / nullif(checkout_sessions, 0) as checkout_to_purchase_rate,
        cast(purchase_sessions as double) / nullif(sessions, 0) as session_conversion_rate,
        1 - cast(cart_sessions as double) / nullif(product_view_sessions, 0) as view_drop_off,
        1 - cast(checkout_sessions as double) / nullif(cart_sessions, 0) as cart_drop_off,
        1 - cast(purchase_sessions as double) / nullif(checkout_sessions, 0) as checkout_drop_off
    from steps
)

select * from final
