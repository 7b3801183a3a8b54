-- The money adds up: order lines, orders and silver's own totals agree to the cent.
with item_totals as (
    select sum(net_amount) as net_total from {{ ref('fct_order_items') }}
),

order_totals as (
    select sum(net_amount) as net_total from {{ ref('fct_orders') }}
),

silver_totals as (
    select sum(net_amount) as net_total from {{ source('silver', 'orders') }}
)

select
    item_totals.net_total as items_net,
    order_totals.net_total as orders_net,
    silver_totals.net_total as silver_net
from item_totals
cross join order_totals
cross join silver_totals
where
    item_totals.net_total != order_totals.net_total
    or order_totals.net_total != silver_totals.net_total
