{#- Landing lines bronze could not parse, without their raw text (which may hold a customer's details). -#}
with source as (
    select * from {{ source('bronze', 'quarantine') }}
),

renamed as (
    select
        entity,
        reason,
        _source_file as source_file,
        _source_line as source_line,
        _batch_id as batch_id,
        _ingested_at as quarantined_at
    from source
)

select * from renamed
