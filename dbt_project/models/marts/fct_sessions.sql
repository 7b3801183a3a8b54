{#- One row per clickstream session (built by Spark), keyed to the customer version valid when it began.
    Incremental: a run rebuilds the days that received events (Spark rebuilt those days' sessions). -#}
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
    select * from {{ ref('int_sessions_matched_to_customer_versions') }}
    {% if is_incremental() -%}
        where session_date in ({{ touched_days('event_days') }})
    {%- endif %}
),

final as (
    select
        session_id,
        customer_key,
        customer_id,
        anonymous_id,
        session_date,
        session_start,
        session_end,
        duration_seconds,
        events,
        page_views,
        product_views,
        products_viewed,
        add_to_carts,
        reached_cart,
        reached_checkout,
        converted,
        order_id,
        device,
        country,
        referrer,
        landing_page
    from sessions
)

select * from final
