{#- Every order with the customer version that was valid when it was placed. -#}
with orders as (
    select * from {{ ref('stg_orders') }}
),

customers as (
    select * from {{ ref('int_customers_versioned') }}
),

final as (
    select
        orders.order_id,
        customers.customer_key,
        orders.customer_id,
        orders.order_date,
        orders.order_ts,
        orders.status,
        orders.payment_method,
        orders.channel,
        orders.shipping_country,
        orders.currency,
        orders.item_count,
        orders.units,
        orders.gross_amount,
        orders.discount_amount,
        orders.shipping_amount,
        orders.net_amount,
        {{ order_milestones('orders') }},
        orders._batch_id
    from orders
    left join customers
        on
            orders.customer_id = customers.customer_id
            and {{ valid_at('customers', 'orders.order_ts') }}
)

select * from final
