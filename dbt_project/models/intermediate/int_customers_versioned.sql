{#- SCD Type 2 from silver's change history: each version is valid from its own updated_at until the next one, so a
    run that loads many days at once still yields every day's version with its real effective time. -#}
with versions as (
    select * from {{ ref('stg_customers_history') }}
),

timed as (
    select
        *,
        lead(updated_at) over (partition by customer_id order by updated_at) as next_valid_from
    from versions
),

final as (
    select
        {{ surrogate_key(['customer_id', epoch_ms('updated_at')]) }} as customer_key,
        customer_id,
        first_name,
        email,
        city,
        postal_code,
        country,
        signup_date,
        marketing_opt_in,
        updated_at as valid_from,
        next_valid_from as valid_to,
        next_valid_from is null as is_current
    from timed
)

select * from final
