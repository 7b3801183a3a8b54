{#- Exact percentiles that every engine computes alike: the value at rank ceil(p * n) of a group's n values in
    order (the "nearest rank" definition). Trino has only approximate percentiles and DuckDB's differ from them, so
    a mart that both deployments must agree on ranks the values itself.

    `measures` is the CTE of long rows (group columns, `measure`, `measured`); this returns the rows ranked within their
    group and measure, and `percentile_of` picks one percentile of one measure out of them in an aggregate. -#}
{% macro ranked_measures(measures, group_columns) -%}
    select
        {{ group_columns | join(', ') }},
        measure,
        measured,
        row_number() over (partition by {{ group_columns | join(', ') }}, measure order by measured) as value_rank,
        count(*) over (partition by {{ group_columns | join(', ') }}, measure) as value_count
    from {{ measures }}
    where measured is not null
{%- endmacro %}

{% macro percentile_of(measure, p) -%}
    max(case when measure = '{{ measure }}' and value_rank = cast(ceil({{ p }} * value_count) as bigint) then measured end)
{%- endmacro %}

{#- Hours between two instants as a double, to the millisecond, alike on both engines. -#}
{% macro hours_between(start, finish) -%}
    cast(date_diff('millisecond', {{ start }}, {{ finish }}) as double) / 3600000
{%- endmacro %}
