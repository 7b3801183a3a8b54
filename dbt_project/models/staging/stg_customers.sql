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
        -- dbt's snapshot columns are plain timestamps: hand it UTC without the zone, the same on DuckDB and Trino.
        cast(updated_at at time zone 'UTC' as timestamp) as updated_at
    from source
)

select * from renamed
