{#- Products bought together: every pair of products met in at least var('basket_min_orders') orders that were not
    cancelled, with support, confidence and lift (macros/basket.sql), named and categorised as the products are now. -#}
with pairs as (
    {{ basket_pairs(
        "select distinct items.order_id, items.product_id as item
        from " ~ ref('fct_order_items') ~ " as items
        where items.status <> 'cancelled'"
    ) }}
),

products as (
    select
        product_id,
        product_name,
        category
    from {{ ref('dim_products') }}
    where is_current
),

final as (
    select
        pairs.item_a as product_id_a,
        product_a.product_name as product_name_a,
        product_a.category as category_a,
        pairs.item_b as product_id_b,
        product_b.product_name as product_name_b,
        product_b.category as category_b,
        pairs.orders_with_both,
        pairs.orders_with_a,
        pairs.orders_with_b,
        pairs.total_orders,
        pairs.support,
        pairs.confidence_a_to_b,
        pairs.confidence_b_to_a,
        pairs.lift
    from pairs
    inner join products as product_a on pairs.item_a = product_a.product_id
    inner join products as product_b on pairs.item_b = product_b.product_id
)

select * from final
