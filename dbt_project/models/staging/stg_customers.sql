with source as (
    select * from {{ source('silver', 'customers') }}
),

renamed as (
    select
        customer_id,
        first_name,
        last_name,
        email,
        phone,
        street_address,
        city,
        postal_code,
        country,
        signup_date,
        marketing_opt_in,
        -- dbt's snapshot columns are plain timestamps: hand it UTC without the zone (timestamp(6) on Trino).
        {{ utc_timestamp('updated_at') }} as updated_at
    from source
)

select * from renamed
