{#- One row per clickstream session (built by Spark), keyed to the customer version valid when it began. -#}
with sessions as (
    select * from {{ ref('stg_sessions') }}
),

customers as (
    select * from {{ ref('dim_customers') }}
),

final as (
    select
        sessions.session_id,
        customers.customer_key,
        sessions.customer_id,
        sessions.anonymous_id,
        sessions.session_date,
        sessions.session_start,
        sessions.session_end,
        sessions.duration_seconds,
        sessions.events,
        sessions.page_views,
        sessions.product_views,
        sessions.products_viewed,
        sessions.add_to_carts,
        sessions.reached_cart,
        sessions.reached_checkout,
        sessions.converted,
        sessions.order_id,
        sessions.device,
        sessions.country,
        sessions.referrer,
        sessions.landing_page
    from sessions
    left join customers
        on
            sessions.customer_id = customers.customer_id
            and sessions.session_start >= customers.valid_from
            and (sessions.session_start < customers.valid_to or customers.valid_to is null)
)

select * from final
