{#- SCD Type 2 from silver's change history (see int_customers_versioned). -#}
with versions as (
    select * from {{ ref('stg_products_history') }}
),

timed as (
    select
        *,
        lead(updated_at) over (partition by product_id order by updated_at) as next_valid_from
    from versions
),

final as (
    select
        {{ surrogate_key(['product_id', epoch_ms('updated_at')]) }} as product_key,
        product_id,
        sku,
        product_name,
        category,
        subcategory,
        brand,
        price,
        cost,
        is_active,
        updated_at as valid_from,
        next_valid_from as valid_to,
        next_valid_from is null as is_current
    from timed
)

select * from final
