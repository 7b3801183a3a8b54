{#- Customers by the month of their first order (cohort) and months since: how many ordered again that month. -#}
with orders as (
    select
        customer_id,
        cast({{ dbt.date_trunc('month', 'order_date') }} as date) as order_month
    from {{ ref('fct_orders') }}
    where not is_cancelled
),

cohorts as (
    select
        customer_id,
        min(order_month) as cohort_month
    from orders
    group by 1
),

activity as (
    select distinct
        cohorts.cohort_month,
        orders.customer_id,
        date_diff('month', cohorts.cohort_month, orders.order_month) as months_since
    from orders
    inner join cohorts on orders.customer_id = cohorts.customer_id
),

sizes as (
    select
        cohort_month,
        count(*) as cohort_customers
    from cohorts
    group by 1
),

final as (
    select
        activity.cohort_month,
        activity.months_since,
        sizes.cohort_customers,
        count(*) as active_customers,
        cast(count(*) as double) / sizes.cohort_customers as retention_rate
    from activity
    inner join sizes on activity.cohort_month = sizes.cohort_month
    group by 1, 2, 3
)

select * from final
