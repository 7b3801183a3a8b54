with source as (
    select * from {{ source('spark_gold', 'sessions') }}
),

renamed as (
    select
        session_id,
        anonymous_id,
        customer_id,
        session_date,
        session_start,
        session_end,
        duration_seconds,
        events,
        page_views,
        product_views,
        products_viewed,
        add_to_carts,
        reached_cart,
        reached_checkout,
        converted,
        order_id,
        device,
        country,
        referrer,
        landing_page
    from source
)

select * from renamed
