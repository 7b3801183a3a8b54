with source as (
    select * from {{ source('silver', 'orders') }}
),

renamed as (
    select
        order_id,
        customer_id,
        order_ts,
        order_date,
        currency,
        payment_method,
        channel,
        shipping_country,
        item_count,
        units,
        gross_amount,
        discount_amount,
        shipping_amount,
        net_amount,
        status,
        status_ts,
        {{ order_milestones() }},
        _batch_id
    from source
)

select * from renamed
