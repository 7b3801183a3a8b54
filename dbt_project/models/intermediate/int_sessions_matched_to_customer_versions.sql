{#- Every clickstream session with the customer version that was valid when it began (none if not logged in). -#}
with sessions as (
    select * from {{ ref('stg_sessions') }}
),

customers as (
    select * from {{ ref('int_customers_versioned') }}
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
            and {{ valid_at('customers', 'sessions.session_start') }}
)

select * from final
