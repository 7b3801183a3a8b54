{#- Models land in the schema they name (staging, gold), not in "<target schema>_<name>", so that DuckDB and the
    Trino catalog show the same schemas. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name | trim if custom_schema_name else target.schema }}
{%- endmacro %}
