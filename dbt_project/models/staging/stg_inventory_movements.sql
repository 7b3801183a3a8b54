with source as (
    select * from {{ source('silver', 'inventory_movements') }}
),

renamed as (
    select
        movement_id,
        product_id,
        movement_ts,
        movement_date,
        movement_type,
        quantity,
        warehouse,
        _batch_id
    from source
)

select * from renamed
