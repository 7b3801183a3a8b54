{#- Daily, weekly and monthly active visitors (by browser) as of each day, over trailing 1, 7 and 30 days, and
    stickiness (DAU / MAU). -#}
with activity as (
    select distinct
        session_date as active_date,
        anonymous_id
    from {{ ref('fct_sessions') }}
),

calendar as (
    select date_day from {{ ref('dim_date') }}
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
