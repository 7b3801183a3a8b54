{#- Stock level per product at the end of each day: the running sum of its movements (initial stock, receipts,
    sales, returns, adjustments), with the day's flows. Incremental: a movement changes the stock of every later
    day, so a run rebuilds every day from the first one that received movements (the running sum still reads
    every day's totals, a small aggregate). -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='stock_date',
        pre_hook="{{ record_rebuilt('select date_day from ' ~ ref('dim_date') ~ ' where date_day >= ' ~ first_rebuilt_day('movement_days', 'stock_date')) }}",
    )
}}
-- depends_on: {{ ref('stg_inventory_movements') }}
with movements as (
    select * from {{ ref('stg_inventory_movements') }}
),

daily as (
    select
        product_id,
        movement_date,
        sum(quantity) as net_change,
        sum(case when movement_type in ('initial', 'receipt') then quantity else 0 end) as received,
        sum(case when movement_type = 'sale' then -quantity else 0 end) as sold,
        sum(case when movement_type = 'return' then quantity else 0 end) as returned
    from movements
    group by 1, 2
),

product_days as (
    select
        products.product_id,
        calendar.date_day
    from (select distinct product_id from movements) as products
    cross join {{ ref('dim_date') }} as calendar
),

final as (
    select
        product_days.product_id,
        product_days.date_day as stock_date,
        coalesce(daily.received, 0) as received,
        coalesce(daily.sold, 0) as sold,
        coalesce(daily.returned, 0) as returned,
        coalesce(daily.net_change, 0) as net_change,
        sum(coalesce(daily.net_change, 0)) over (
            partition by product_days.product_id
            order by product_days.date_day
            rows between unbounded preceding and current row
        ) as stock_level
    from product_days
    left join daily
        on
            product_days.product_id = daily.product_id
            and product_days.date_day = daily.movement_date
)

select * from final
{% if is_incremental() -%}
    where stock_date >= {{ first_rebuilt_day('movement_days', 'stock_date') }}
{%- endif %}
