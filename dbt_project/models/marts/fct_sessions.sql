{#- One row per clickstream session (built by Spark), keyed to the customer version valid when it began. -#}
with sessions as (
    select * from {{ ref('int_sessions_matched_to_customer_versions') }}
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
