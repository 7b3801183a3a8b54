{#- One row per day from the first order or event to the last, with the calendar attributes reports group by. -#}
with bounds as (
    select
        least(min(first_order), min(first_event)) as first_day,
        greatest(max(last_order), max(last_event)) as last_day
    from (
        select
            min(order_date) as first_order,
            max(order_date) as last_order,
            cast(null as date) as first_event,
            cast(null as date) as last_event
        from {{ ref('stg_orders') }}
        union all
        select
            cast(null as date) as first_order,
            cast(null as date) as last_order,
            min(event_date) as first_event,
            max(event_date) as last_event
        from {{ ref('stg_events') }}
    ) as spans
),

digits as (
    select digit_values.digit from (values (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)) as digit_values (digit)
),

offsets as (
    select thousands.digit * 1000 + hundreds.digit * 100 + tens.digit * 10 + ones.digit as day_offset
    from digits as thousands
    cross join digits as hundreds
    cross join digits as tens
    cross join digits as ones
),

days as (
    select cast({{ dbt.dateadd('day', 'offsets.day_offset', 'bounds.first_day') }} as date) as date_day
    from offsets
    cross join bounds
    where {{ dbt.dateadd('day', 'offsets.day_offset', 'bounds.first_day') }} <= bounds.last_day
),

final as (
    select
        date_day,
        extract(year from date_day) as year_number,
        extract(quarter from date_day) as quarter_number,
        extract(month from date_day) as month_number,
        {{ month_name('date_day') }} as month_name,
        {{ iso_week('date_day') }} as iso_week_number,
        {{ day_of_week('date_day') }} as iso_day_of_week,
        {{ day_name('date_day') }} as day_name,
        {{ day_of_week('date_day') }} >= 6 as is_weekend,
        cast({{ dbt.date_trunc('week', 'date_day') }} as date) as week_start,
        cast({{ dbt.date_trunc('month', 'date_day') }} as date) as month_start,
        cast({{ dbt.date_trunc('quarter', 'date_day') }} as date) as quarter_start
    from days
)

select * from final
