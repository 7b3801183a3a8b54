with source as (
    select * from {{ source('spark_gold', 'daily_product_metrics') }}
),

renamed as (
    select
        metric_date,
        product_id,
        product_views,
        unique_viewers,
        add_to_carts,
        remove_from_carts,
        orders,
        units_sold,
        units_cancelled,
        units_returned,
        revenue,
        returned_revenue
    from source
)

select * from renamed
