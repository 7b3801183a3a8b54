{#- Pairs of items bought in one order, with the measures of association rules: support (share of all orders
    holding both), confidence each way (of the orders holding one, the share holding the other) and lift (how much
    more often the two meet than if they were bought independently; 1 is chance). `baskets` is a query of distinct
    (order_id, item) rows; pairs met in fewer than var('basket_min_orders') orders are left out. -#}
{% macro basket_pairs(baskets) -%}
with baskets as (
    {{ baskets }}
),

total as (
    select count(distinct order_id) as total_orders from baskets
),

item_orders as (
    select item, count(*) as orders_with_item from baskets group by 1
),

pairs as (
    select
        a.item as item_a,
        b.item as item_b,
        count(*) as orders_with_both
    from baskets as a
    inner join baskets as b on a.order_id = b.order_id and a.item < b.item
    group by 1, 2
    having count(*) >= {{ var('basket_min_orders') }}
)

select
    pairs.item_a,
    pairs.item_b,
    pairs.orders_with_both,
    item_a.orders_with_item as orders_with_a,
    item_b.orders_with_item as orders_with_b,
    total.total_orders,
    cast(pairs.orders_with_both as double) / total.total_orders as support,
    cast(pairs.orders_with_both as double) / item_a.orders_with_item as confidence_a_to_b,
    cast(pairs.orders_with_both as double) / item_b.orders_with_item as confidence_b_to_a,
    cast(pairs.orders_with_both as double) * total.total_orders
    / (cast(item_a.orders_with_item as double) * item_b.orders_with_item) as lift
from pairs
inner join item_orders as item_a on pairs.item_a = item_a.item
inner join item_orders as item_b on pairs.item_b = item_b.item
cross join total
{%- endmacro %}
