{#- SCD Type 2 invariants: every business key has exactly one current row, and its versions never overlap. -#}

{% test exactly_one_current_row(model, business_key) %}
select
    {{ business_key }},
    sum(case when is_current then 1 else 0 end) as current_rows
from {{ model }}
group by {{ business_key }}
having sum(case when is_current then 1 else 0 end) != 1
{% endtest %}

{% test no_overlapping_versions(model, business_key) %}
select
    earlier.{{ business_key }},
    earlier.valid_from,
    later.valid_from as overlapping_from
from {{ model }} as earlier
inner join {{ model }} as later
    on
        earlier.{{ business_key }} = later.{{ business_key }}
        and later.valid_from > earlier.valid_from
        and (earlier.valid_to is null or later.valid_from < earlier.valid_to)
{% endtest %}
