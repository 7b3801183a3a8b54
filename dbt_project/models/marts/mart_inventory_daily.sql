{#- Stock level per product at the end of each day from its first movement on: the running sum of its movements
    (initial stock, receipts, sales, returns, adjustments), with the day's flows. Incremental: a movement changes the
    stock of every later day, so a run rebuilds every day from the first one that received movements, continuing
    from each product's stock the day before as the last build left it (reading only the movements from then on). -#}
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
{%- endif %}
with movements as (
    select * from {{ ref('stg_inventory_movements') }}
    {% if is_incremental() -%}
        where movement_date >= {{ first_day }}
    {%- endif %}
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

{% if is_incremental() -%}
opening as (
    {#- Each product's stock at the end of the day before the first one rebuilt, as the last build left it. -#}
    select
        product_id,
        stock_level
    from {{ this }}
    where stock_date = cast({{ dbt.dateadd('day', -1, first_day) }} as date)
),
{%- endif %}

product_days as (
    {#- Every day from a product's first movement on, so a day without movements still has a stock. -#}
    select
        firsts.product_id,
        calendar.date_day
    from (
        select
            product_id,
            min(starting_day) as first_moved
        from (
            select
                product_id,
                movement_date as starting_day
            from daily
            {% if is_incremental() -%}
                union all
                select
                    product_id,
                    {{ first_day }} as starting_day
                from opening
            {%- endif %}
        ) as beginnings
        group by 1
    ) as firsts
    inner join {{ ref('dim_date') }} as calendar on firsts.first_moved <= calendar.date_day
),

final as (
    select
        product_days.product_id,
        product_days.date_day as stock_date,
        coalesce(daily.received, 0) as received,
        coalesce(daily.sold, 0) as sold,
        coalesce(daily.returned, 0) as returned,
        coalesce(daily.net_change, 0) as net_change,
        {% if is_incremental() %}coalesce(opening.stock_level, 0) + {% endif %}sum(coalesce(daily.net_change, 0)) over (
            partition by product_days.product_id
            order by product_days.date_day
            rows between unbounded preceding and current row
        ) as stock_level
    from product_days
    left join daily
        on
            product_days.product_id = daily.product_id
            and product_days.date_day = daily.movement_date
    {% if is_incremental() -%}
        left join opening on product_days.product_id = opening.product_id
    {%- endif %}
)

select * from final
