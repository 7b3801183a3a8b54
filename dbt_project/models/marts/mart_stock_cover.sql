{#- Stock cover per product, warehouse and day: the stock on hand at the end of the day (the running sum of the
    movements), the units sold that day and on average over the last var('cover_window_days') days, how many days
    the stock would last at that pace, and two flags: out of stock (nothing on hand) and sold while out of stock
    (the day's sales took stock below zero: the shop sold units it did not have, as backorders). Incremental like
    mart_inventory_daily: a run rebuilds every day from the first one that received movements, from the stock on
    hand the day before and the sales of the window's earlier days as the last build left them. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='stock_date',
        pre_hook="{{ record_rebuilt('select date_day from ' ~ ref('dim_date') ~ ' where date_day >= ' ~ first_rebuilt_day('movement_days', 'stock_date')) }}",
    )
}}
-- depends_on: {{ ref('stg_inventory_movements') }}
{%- if is_incremental() %}
    {%- set first_day = first_rebuilt_day('movement_days', 'stock_date') %}
    {%- set window_start = 'cast(' ~ dbt.dateadd('day', 1 - var('cover_window_days'), first_day) ~ ' as date)' %}
{%- endif %}
with daily as (
    select
        product_id,
        warehouse,
        movement_date,
        sum(quantity) as net_change,
        sum(case when movement_type = 'sale' then -quantity else 0 end) as units_sold
    from {{ ref('stg_inventory_movements') }}
    {% if is_incremental() -%}
        where movement_date >= {{ first_day }}
    {%- endif %}
    group by 1, 2, 3
),

{% if is_incremental() -%}
earlier as (
    {#- The days before the first rebuilt one that the sales window reaches back to, as the last build left them. -#}
    select
        product_id,
        warehouse,
        stock_date,
        on_hand,
        units_sold
    from {{ this }}
    where stock_date >= {{ window_start }} and stock_date < {{ first_day }}
),

opening as (
    {#- The stock on hand at the end of the day before the first rebuilt one. -#}
    select
        product_id,
        warehouse,
        on_hand
    from earlier
    where stock_date = cast({{ dbt.dateadd('day', -1, first_day) }} as date)
),
{%- endif %}

product_days as (
    {#- Every day from a product's first movement in a warehouse on, so a day without movements still has a stock. -#}
    select
        firsts.product_id,
        firsts.warehouse,
        calendar.date_day
    from (
        select
            product_id,
            warehouse,
            min(starting_day) as first_moved
        from (
            select
                product_id,
                warehouse,
                movement_date as starting_day
            from daily
            {% if is_incremental() -%}
                union all
                select
                    product_id,
                    warehouse,
                    {{ first_day }} as starting_day
                from opening
            {%- endif %}
        ) as beginnings
        group by 1, 2
    ) as firsts
    inner join {{ ref('dim_date') }} as calendar on firsts.first_moved <= calendar.date_day
),

levels as (
    select
        product_days.product_id,
        product_days.warehouse,
        product_days.date_day as stock_date,
        coalesce(daily.units_sold, 0) as units_sold,
        {% if is_incremental() %}coalesce(opening.on_hand, 0) + {% endif %}sum(coalesce(daily.net_change, 0)) over (
            partition by product_days.product_id, product_days.warehouse
            order by product_days.date_day
            rows between unbounded preceding and current row
        ) as on_hand
    from product_days
    left join daily
        on
            product_days.product_id = daily.product_id
            and product_days.warehouse = daily.warehouse
            and product_days.date_day = daily.movement_date
    {% if is_incremental() -%}
        left join opening
            on
                product_days.product_id = opening.product_id
                and product_days.warehouse = opening.warehouse
    {%- endif %}
),

averaged as (
    {#- The average over the window reads the days before the first rebuilt one too, as the last build left them. -#}
    select
        product_id,
        warehouse,
        stock_date,
        avg(cast(units_sold as double)) over (
            partition by product_id, warehouse
            order by stock_date
            rows between {{ var('cover_window_days') - 1 }} preceding and current row
        ) as average_daily_units_sold
    from (
        select
            product_id,
            warehouse,
            stock_date,
            units_sold
        from levels
        {% if is_incremental() -%}
            union all
            select
                product_id,
                warehouse,
                stock_date,
                units_sold
            from earlier
        {%- endif %}
    ) as sales
),

final as (
    select
        levels.product_id,
        levels.warehouse,
        levels.stock_date,
        levels.on_hand,
        levels.units_sold,
        averaged.average_daily_units_sold,
        case
            when averaged.average_daily_units_sold > 0
                then greatest(levels.on_hand, 0) / averaged.average_daily_units_sold
        end as days_of_cover,
        levels.on_hand <= 0 as is_out_of_stock,
        levels.on_hand < 0 and levels.units_sold > 0 as sold_while_out_of_stock
    from levels
    inner join averaged
        on
            levels.product_id = averaged.product_id
            and levels.warehouse = averaged.warehouse
            and levels.stock_date = averaged.stock_date
)

select * from final
