with source as (
    select * from {{ source('silver', 'customers_history') }}
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
        updated_at
    from source
)

select * from renamed
