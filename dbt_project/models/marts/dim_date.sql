{#- One row per day from the first to the last day with an order, an event or a stock movement (a shop's past
    brings orders and stock movements from before the tracker's first event), with the calendar attributes
    reports group by. -#}
with spans as (
    select
        min(order_date) as first_day,
        max(order_date) as last_day
    from {{ ref('stg_orders') }}
    union all
    select
        min(event_date) as first_day,
        max(event_date) as last_day
    from {{ ref('stg_events') }}
    union all
    select
        min(movement_date) as first_day,
        max(movement_date) as last_day
    from {{ ref('stg_inventory_movements') }}
),

bounds as (
    select
        min(first_day) as first_day,
        max(last_day) as last_day
    from spans
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
