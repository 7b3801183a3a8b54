with source as (
    select * from {{ source('silver', 'events') }}
),

renamed as (
    select
        event_id,
        event_type,
        event_ts,
        event_date,
        anonymous_id,
        customer_id,
        product_id,
        order_id,
        page_url,
        referrer,
        device,
        country,
        arrived_date,
        _batch_id
    from source
)

select * from renamed
