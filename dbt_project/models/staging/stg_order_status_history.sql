with source as (
    select * from {{ source('silver', 'order_status_history') }}
),

renamed as (
    select
        status_id,
        order_id,
        status,
        status_ts
    from source
)

select * from renamed
