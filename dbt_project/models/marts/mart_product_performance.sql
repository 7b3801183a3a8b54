{#- Per product (its current version): revenue, units, margin, return rate, and how often a view led to a purchase. -#}
with items as (
    select * from {{ ref('fct_order_items') }}
),

products as (
    select * from {{ ref('dim_products') }}
    where is_current
),

traffic as (
    select
        product_id,
        sum(product_views) as product_views,
        sum(unique_viewers) as viewer_days,
        sum(add_to_carts) as add_to_carts
    from {{ ref('stg_daily_product_metrics') }}
    group by 1
),

sales as (
    select
        product_id,
        count(distinct case when status != 'cancelled' then order_id end) as orders,
        sum(case when status != 'cancelled' then quantity else 0 end) as units_sold,
        sum(case when status = 'returned' then quantity else 0 end) as units_returned,
        sum(case when status != 'cancelled' then net_amount else 0 end) as revenue,
        sum(case when status != 'cancelled' then margin_amount else 0 end) as margin
    from items
    group by 1
),

final as (
    select
        products.product_key,
        products.product_id,
        products.product_name,
        products.category,
        products.subcategory,
        products.brand,
        products.price,
        products.is_active,
        coalesce(sales.orders, 0) as orders,
        coalesce(sales.units_sold, 0) as units_sold,
        coalesce(sales.units_returned, 0) as units_returned,
        coalesce(sales.revenue, 0) as revenue,
        coalesce(sales.margin, 0) as margin,
        case
            when sales.revenue > 0 then cast(sales.margin as double) / cast(sales.revenue as double)
        end as margin_rate,
        case when sales.units_sold > 0 then cast(sales.units_returned as double) / sales.units_sold end as return_rate,
        coalesce(traffic.product_views, 0) as product_views,
        coalesce(traffic.add_to_carts, 0) as add_to_carts,
        case
            when traffic.viewer_days > 0 then cast(coalesce(sales.orders, 0) as double) / traffic.viewer_days
        end as view_to_purchase_rate
    from products
    left join sales on products.product_id = sales.product_id
    left join traffic on products.product_id = traffic.product_id
)

select * from final
