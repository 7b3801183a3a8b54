{#- Recency, frequency and monetary value per customer, scored 1-5 by quintile, with a segment and the lifetime
    value to date. Recency is measured from the last day with orders, so the mart is stable on historical data. -#}
with orders as (
    select * from {{ ref('fct_orders') }}
    where not is_cancelled
),

customers as (
    select * from {{ ref('dim_customers') }}
    where is_current
),

as_of as (
    select max(order_date) as as_of_date from orders
),

per_customer as (
    select
        customer_id,
        min(order_date) as first_order_date,
        max(order_date) as last_order_date,
        count(*) as frequency,
        sum(net_amount) as monetary,
        sum(case when is_returned then 0 else net_amount end) as lifetime_value
    from orders
    group by 1
),

scored as (
    select
        per_customer.*,
        date_diff('day', per_customer.last_order_date, as_of.as_of_date) as recency_days,
        ntile(5) over (order by per_customer.last_order_date, per_customer.customer_id) as recency_score,
        ntile(5) over (
            order by per_customer.frequency, per_customer.monetary, per_customer.customer_id
        ) as frequency_score,
        ntile(5) over (order by per_customer.monetary, per_customer.customer_id) as monetary_score
    from per_customer
    cross join as_of
),

final as (
    select
        customers.customer_key,
        scored.customer_id,
        customers.country,
        customers.marketing_opt_in,
        scored.first_order_date,
        scored.last_order_date,
        scored.recency_days,
        scored.frequency,
        scored.monetary,
        scored.lifetime_value,
        scored.recency_score,
        scored.frequency_score,
        scored.monetary_score,
        cast(scored.recency_score as varchar)
        || cast(scored.frequency_score as varchar)
        || cast(scored.monetary_score as varchar) as rfm_score,
        case
            when scored.recency_score >= 4 and scored.frequency_score >= 4 then 'Champions'
            when scored.recency_score >= 3 and scored.frequency_score >= 3 then 'Loyal'
            when scored.recency_score >= 4 and scored.frequency_score <= 2 then 'New'
            when scored.recency_score <= 2 and scored.frequency_score >= 3 then 'At risk'
            when scored.recency_score <= 2 and scored.frequency_score <= 2 then 'Hibernating'
            else 'Needs attention'
        end as segment
    from scored
    inner join customers on scored.customer_id = customers.customer_id
)

select * from final
