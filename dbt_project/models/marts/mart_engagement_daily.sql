{#- Daily, weekly and monthly active visitors (by browser) as of each day, over trailing 1, 7 and 30 days, and
    stickiness (DAU / MAU). Incremental: a day's figures look 30 days back, so a run rebuilds every day from the
    first one that received events. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='activity_date',
        pre_hook="{{ record_rebuilt('select date_day from ' ~ ref('dim_date') ~ ' where date_day >= ' ~ first_rebuilt_day('event_days', 'activity_date')) }}",
    )
}}
-- depends_on: {{ ref('stg_events') }}
with
{% if is_incremental() -%}
    first_day as (
        select {{ first_rebuilt_day('event_days', 'activity_date') }} as first_rebuilt
    ),
{%- endif %}

activity as (
    select distinct
        session_date as active_date,
        anonymous_id
    from {{ ref('fct_sessions') }}
    {% if is_incremental() -%}
        where session_date > (select {{ dbt.dateadd('day', -30, 'first_rebuilt') }} from first_day)
    {%- endif %}
),

calendar as (
    select date_day from {{ ref('dim_date') }}
    {% if is_incremental() -%}
        where date_day >= (select first_rebuilt from first_day)
    {%- endif %}
),

windows as (
    select
        calendar.date_day,
        count(distinct case when activity.active_date = calendar.date_day then activity.anonymous_id end) as dau,
        count(
            distinct case
                when activity.active_date > {{ dbt.dateadd('day', -7, 'calendar.date_day') }} then activity.anonymous_id
            end
        ) as wau,
        count(distinct activity.anonymous_id) as mau
    from calendar
    inner join activity
        on
            calendar.date_day >= activity.active_date
            and {{ dbt.dateadd('day', -30, 'calendar.date_day') }} < activity.active_date
    group by 1
),

final as (
    select
        date_day as activity_date,
        dau,
        wau,
        mau,
        cast(dau as double) / nullif(mau, 0) as stickiness
    from windows
)

select * from final
