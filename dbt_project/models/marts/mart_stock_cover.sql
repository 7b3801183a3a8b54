{#- Stock cover per product, warehouse and day: the stock on hand at the end of the day (the running sum of the
    movements), the units sold that day and on average over the last var('cover_window_days') days, how many days
    the stock would last at that pace, and two flags: out of stock (nothing on hand) and sold while out of stock
    (the day's sales took stock below zero: the shop sold units it did not have, as backorders). Incremental like
    mart_inventory_daily: a run rebuilds every day from the first one that received movements. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='stock_date',
        pre_hook="{{ record_rebuilt('select date_day from ' ~ ref('dim_date') ~ ' where date_day >= ' ~ first_rebuilt_day('movement_days', 'stock_date')) }}",
    )
}}
-- depends_on: {{ ref('stg_inventory_movements') }}
with daily as (
    select
        product_id,
        warehouse,
        movement_date,
        sum(quantity) as net_change,
        sum(case when movement_type = 'sale' then -quantity else 0 end) as units_sold
    from {{ ref('stg_inventory_movements') }}
    group by 1, 2, 3
),

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
            min(movement_date) as first_day
        from daily
        group by 1, 2
    ) as firsts
    inner join {{ ref('dim_date') }} as calendar on firsts.first_day <= calendar.date_day
),

levels as (
    select
        product_days.product_id,
        product_days.warehouse,
        product_days.date_day as stock_date,
        coalesce(daily.units_sold, 0) as units_sold,
        sum(coalesce(daily.net_change, 0)) over (
            partition by product_days.product_id, product_days.warehouse
            order by product_days.date_day
            rows between unbounded preceding and current row
        ) as on_hand,
        avg(cast(coalesce(daily.units_sold, 0) as double)) over (
            partition by product_days.product_id, product_days.warehouse
            order by product_days.date_day
            rows between {{ var('cover_window_days') - 1 }} preceding and current row
        ) as average_daily_units_sold
    from product_days
    left join daily
        on
            product_days.product_id = daily.product_id
            and product_days.warehouse = daily.warehouse
            and product_days.date_day = daily.movement_date
),

final as (
    select
        product_id,
        warehouse,
        stock_date,
        on_hand,
        units_sold,
        average_daily_units_sold,
        case
            when average_daily_units_sold > 0 then greatest(on_hand, 0) / average_daily_units_sold
        end as days_of_cover,
        on_hand <= 0 as is_out_of_stock,
        on_hand < 0 and units_sold > 0 as sold_while_out_of_stock
    from levels
)

select * from final
{% if is_incremental() -%}
    where stock_date >= {{ first_rebuilt_day('movement_days', 'stock_date') }}
{%- endif %}
