{#- How long a visitor takes to buy: per customer the web tracker has seen, the first visit (on any browser the
    customer ever logged in from, so anonymous visits before the first login count), the first order, the hours and
    visits between them, and the length of the visit that placed the first order. A customer whose first order
    predates the tracker's first day (the shop's past) is flagged, with no timing. -#}
with sessions as (
    select
        session_id,
        anonymous_id,
        customer_id,
        session_start,
        session_date,
        duration_seconds,
        events,
        order_id
    from {{ ref('fct_sessions') }}
),

tracking as (
    select min(session_date) as first_tracked_day from sessions
),

browsers as (
    select distinct
        anonymous_id,
        customer_id
    from sessions
    where customer_id is not null
),

customer_sessions as (
    select distinct
        browsers.customer_id,
        sessions.session_id,
        sessions.session_start
    from sessions
    inner join browsers on sessions.anonymous_id = browsers.anonymous_id
),

first_orders as (
    select
        customer_id,
        min(order_ts) as first_order_at,
        min_by(order_id, order_ts) as first_order_id
    from {{ ref('fct_orders') }}
    group by 1
),

per_customer as (
    select
        customer_sessions.customer_id,
        min(customer_sessions.session_start) as first_seen_at,
        max(first_orders.first_order_at) as first_order_at,
        max(first_orders.first_order_id) as first_order_id,
        count(case when customer_sessions.session_start <= first_orders.first_order_at then 1 end)
            as sessions_to_first_order
    from customer_sessions
    left join first_orders on customer_sessions.customer_id = first_orders.customer_id
    group by 1
),

final as (
    select
        per_customer.customer_id,
        per_customer.first_seen_at,
        cast(per_customer.first_seen_at as date) as first_seen_date,
        per_customer.first_order_at,
        cast(per_customer.first_order_at as date) as first_order_date,
        cast(per_customer.first_order_at as date) < tracking.first_tracked_day as ordered_before_tracking,
        case
            when cast(per_customer.first_order_at as date) >= tracking.first_tracked_day
                then {{ hours_between('per_customer.first_seen_at', 'per_customer.first_order_at') }}
        end as hours_to_first_order,
        case
            when cast(per_customer.first_order_at as date) >= tracking.first_tracked_day
                then per_customer.sessions_to_first_order
        end as sessions_to_first_order,
        purchase.duration_seconds as first_order_session_seconds,
        purchase.events as first_order_session_events
    from per_customer
    cross join tracking
    left join sessions as purchase on per_customer.first_order_id = purchase.order_id
)

select * from final
