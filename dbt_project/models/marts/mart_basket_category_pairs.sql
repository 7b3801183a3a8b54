{#- Categories bought together: pairs of product categories (as the products were categorised when ordered) met in
    orders that were not cancelled, with support, confidence and lift (macros/basket.sql). -#}
with pairs as (
    {{ basket_pairs(
        "select distinct items.order_id, products.category as item
        from " ~ ref('fct_order_items') ~ " as items
        inner join " ~ ref('dim_products') ~ " as products on items.product_key = products.product_key
        where items.status <> 'cancelled'"
    ) }}
),

final as (
    select
        item_a as category_a,
        item_b as category_b,
        orders_with_both,
        orders_with_a,
        orders_with_b,
        total_orders,
        support,
        confidence_a_to_b,
        confidence_b_to_a,
        lift
    from pairs
)

select * from final
