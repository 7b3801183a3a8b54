{#- SCD Type 2: one row per product version with its validity interval, built in int_products_versioned. -#}
with versions as (
    select * from {{ ref('int_products_versioned') }}
),

final as (
    select
        product_key,
        product_id,
        sku,
        product_name,
        category,
        subcategory,
        brand,
        price,
        cost,
        price - cost as unit_margin,
        is_active,
        valid_from,
        valid_to,
        is_current
    from versions
)

select * from final
