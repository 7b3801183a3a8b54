{#- True when the version of `versions` (an SCD2 relation with valid_from, valid_to) was valid at `at`: from its
    valid_from, up to but not including its valid_to, open-ended on the current version. Half-open, so at the
    instant of a change exactly one version matches. The open end is spelled as a far-future constant rather than
    `valid_to is null or ...`: with an OR in the condition DuckDB gives up its hash join on the business key for a
    nested-loop join, about a hundred times slower on a month of sessions. -#}
{% macro valid_at(versions, at) -%}
    {{ at }} >= {{ versions }}.valid_from and {{ at }} < coalesce({{ versions }}.valid_to, {{ end_of_time() }})
{%- endmacro %}

{#- The instant after every real one, as a timestamp with time zone. -#}
{% macro end_of_time() -%}
    {{ return(adapter.dispatch('end_of_time', 'lakehouse')()) }}
{%- endmacro %}

{% macro default__end_of_time() -%}
    timestamp '9999-12-31 00:00:00 UTC'
{%- endmacro %}

{% macro duckdb__end_of_time() -%}
    timestamptz '9999-12-31 00:00:00+00'
{%- endmacro %}
