{#- Inventory turnover per product category and month: the cost of the goods sold in the month over the average
    value of the stock held (on hand at each day's end, at the product's current cost), and the days of stock that
    represents. Built from mart_stock_cover, so it counts the same stock. -#}
with stock as (
    select
        cast({{ dbt.date_trunc('month', 'cover.stock_date') }} as date) as month_start,
        products.category,
        cover.stock_date,
        sum(greatest(cover.on_hand, 0) * products.cost) as stock_value,
        sum(greatest(cover.on_hand, 0)) as stock_units,
        sum(cover.units_sold * products.cost) as cost_of_goods_sold,
        sum(cover.units_sold) as units_sold
    from {{ ref('mart_stock_cover') }} as cover
    inner join {{ ref('dim_products') }} as products
        on cover.product_id = products.product_id and products.is_current
    group by 1, 2, 3
),

final as (
    select
        month_start,
        category,
        count(*) as stock_days,
        sum(units_sold) as units_sold,
        sum(cost_of_goods_sold) as cost_of_goods_sold,
        avg(stock_units) as average_stock_units,
        avg(cast(stock_value as double)) as average_stock_value,
        {#- In doubles: Trino's decimal division keeps only the operands' scale. -#}
        case
            when avg(cast(stock_value as double)) > 0
                then cast(sum(cost_of_goods_sold) as double) / avg(cast(stock_value as double))
        end as turnover,
        case
            when sum(cost_of_goods_sold) > 0
                then avg(cast(stock_value as double)) * count(*) / cast(sum(cost_of_goods_sold) as double)
        end as days_of_stock
    from stock
    group by 1, 2
)

select * from final
