{#- Churn risk per customer who ever ordered, from three signals an account manager can read: how overdue the next
    order is against the customer's own rhythm (recency), whether orders fell in the last 90 days against the 90
    before (trend), and whether there was ever a second order (frequency). Each gives points; the score is their sum
    (0-100), the segment its band. As of the last day with orders, like the RFM mart. docs/analyses.md says how the
    score was checked against the customers the generator made churn. -#}
with orders as (
    select
        customer_id,
        order_date
    from {{ ref('fct_orders') }}
    where not is_cancelled
),

as_of as (
    select max(order_date) as as_of_date from orders
),

per_customer as (
    select
        orders.customer_id,
        min(orders.order_date) as first_order_date,
        max(orders.order_date) as last_order_date,
        count(*) as orders,
        count(case when orders.order_date > {{ dbt.dateadd('day', -90, 'as_of.as_of_date') }} then 1 end)
            as orders_last_90_days,
        count(
            case
                when
                    orders.order_date > {{ dbt.dateadd('day', -180, 'as_of.as_of_date') }}
                    and orders.order_date <= {{ dbt.dateadd('day', -90, 'as_of.as_of_date') }}
                    then 1
            end
        ) as orders_prior_90_days,
        date_diff('day', max(orders.order_date), max(as_of.as_of_date)) as recency_days
    from orders
    cross join as_of
    group by 1
),

gaps as (
    select
        *,
        case
            when orders > 1 then cast(date_diff('day', first_order_date, last_order_date) as double) / (orders - 1)
        end as usual_gap_days
    from per_customer
),

shop_gap as (
    {#- For a customer with one order, the rhythm of the shop's repeat customers: their median gap. -#}
    select {{ percentile_of('gap', 0.5) }} as median_gap_days
    {%- set gaps_in_long_form = "(select 'shop' as shop, 'gap' as measure, usual_gap_days as measured from gaps)" %}
    from ({{ ranked_measures(gaps_in_long_form, ['shop']) }}) as ranked
),

signals as (
    select
        gaps.*,
        cast(gaps.recency_days as double)
        / greatest(coalesce(gaps.usual_gap_days, shop_gap.median_gap_days, 30), {{ var('churn_min_gap_days') }})
            as overdue_ratio,
        case
            when gaps.orders_prior_90_days > gaps.orders_last_90_days
                then cast(gaps.orders_prior_90_days - gaps.orders_last_90_days as double) / gaps.orders_prior_90_days
            else 0
        end as decline_share
    from gaps
    cross join shop_gap
),

scored as (
    select
        *,
        60 * least(overdue_ratio / 3, 1) as recency_points,
        25 * decline_share as trend_points,
        case when orders = 1 then 15 else 0 end as frequency_points
    from signals
),

final as (
    select
        customer_id,
        first_order_date,
        last_order_date,
        orders,
        orders_last_90_days,
        orders_prior_90_days,
        recency_days,
        usual_gap_days,
        overdue_ratio,
        recency_points,
        trend_points,
        frequency_points,
        recency_points + trend_points + frequency_points as churn_risk_score,
        case
            when recency_days >= {{ var('churned_after_days') }} then 'Lapsed'
            when recency_points + trend_points + frequency_points >= 60 then 'High risk'
            when recency_points + trend_points + frequency_points >= 35 then 'Medium risk'
            else 'Healthy'
        end as churn_risk_segment
    from scored
)

select * from final
