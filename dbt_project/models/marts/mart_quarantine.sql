{#- Every record the pipeline set aside, from bronze (unreadable lines) and silver (broken rules), with why and where
    it came from: what the pipeline-health dashboard shows. Only these columns reach gold; the raw text and the record
    stay in the quarantines, which dashboards do not read. -#}
with bronze as (
    select * from {{ ref('stg_quarantine_bronze') }}
),

silver as (
    select * from {{ ref('stg_quarantine_silver') }}
),

final as (
    select
        cast('bronze' as varchar) as layer,
        entity,
        reason,
        reason as detail,
        source_file,
        source_line,
        batch_id,
        quarantined_at
    from bronze
    union all
    select
        cast('silver' as varchar) as layer,
        entity,
        rule as reason,
        reason as detail,
        source_file,
        source_line,
        batch_id,
        quarantined_at
    from silver
)

select * from final
