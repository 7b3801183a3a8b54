{#- Records that broke a silver rule, without the record itself (which may hold a customer's details). -#}
with source as (
    select * from {{ source('silver', 'quarantine') }}
),

renamed as (
    select
        entity,
        rule,
        reason,
        _source_file as source_file,
        _source_line as source_line,
        _batch_id as batch_id,
        quarantined_at
    from source
)

select * from renamed
