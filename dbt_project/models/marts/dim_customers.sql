{#- SCD Type 2: one row per customer version with its validity interval, built in int_customers_versioned; here
    only what the gold layer may show. -#}
with versions as (
    select * from {{ ref('int_customers_versioned') }}
),

final as (
    select
        customer_key,
        customer_id,
        first_name,
        -- Personal data stays out of the gold layer in clear: a hash to join on, a mask to show.
        {{ dbt.hash('lower(email)') }} as email_hash,
        substr(email, 1, 1) || '***@' || split_part(email, '@', 2) as email_masked,
        city,
        postal_code,
        country,
        signup_date,
        marketing_opt_in,
        valid_from,
        valid_to,
        is_current
    from versions
)

select * from final
