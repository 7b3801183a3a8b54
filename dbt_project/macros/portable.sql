{#- Date parts whose spelling differs between DuckDB and Trino; everything else in the models is common SQL. -#}

{% macro day_of_week(date_expr) -%}
    {{ return(adapter.dispatch('day_of_week', 'lakehouse')(date_expr)) }}
{%- endmacro %}

{% macro default__day_of_week(date_expr) -%}
    day_of_week({{ date_expr }})
{%- endmacro %}

{% macro duckdb__day_of_week(date_expr) -%}
    isodow({{ date_expr }})
{%- endmacro %}

{% macro iso_week(date_expr) -%}
    {{ return(adapter.dispatch('iso_week', 'lakehouse')(date_expr)) }}
{%- endmacro %}

{% macro default__iso_week(date_expr) -%}
    week_of_year({{ date_expr }})
{%- endmacro %}

{% macro duckdb__iso_week(date_expr) -%}
    weekofyear({{ date_expr }})
{%- endmacro %}

{% macro day_name(date_expr) -%}
    {{ return(adapter.dispatch('day_name', 'lakehouse')(date_expr)) }}
{%- endmacro %}

{% macro default__day_name(date_expr) -%}
    format_datetime({{ date_expr }}, 'EEEE')
{%- endmacro %}

{% macro duckdb__day_name(date_expr) -%}
    dayname({{ date_expr }})
{%- endmacro %}

{% macro month_name(date_expr) -%}
    {{ return(adapter.dispatch('month_name', 'lakehouse')(date_expr)) }}
{%- endmacro %}

{% macro default__month_name(date_expr) -%}
    format_datetime({{ date_expr }}, 'MMMM')
{%- endmacro %}

{% macro duckdb__month_name(date_expr) -%}
    monthname({{ date_expr }})
{%- endmacro %}

{#- A stable surrogate key, the same on every engine: the md5 (hex) of the parts as text, joined by '|' (dbt.hash
    spells md5 per engine: Trino's md5 takes bytes, DuckDB's takes text). Text and integers read the same on both
    engines; a timestamp does not (Trino writes '2024-01-02 03:04:05.620 UTC', DuckDB '2024-01-02 03:04:05.62+00',
    and DuckDB in its session's time zone), so a timestamp part goes in through epoch_ms. -#}
{% macro surrogate_key(parts) -%}
    {%- set joined -%}
        {% for part in parts %}coalesce(cast({{ part }} as varchar), '∅'){% if not loop.last %} || '|' || {% endif %}{% endfor %}
    {%- endset -%}
    {{ dbt.hash(joined) }}
{%- endmacro %}

{#- A timestamp with time zone as UTC without the zone, in the type each engine's table format takes: Trino's Delta
    connector writes timestamp(6) (or timestamp(3) with time zone), DuckDB a plain timestamp. -#}
{% macro utc_timestamp(expr) -%}
    {{ return(adapter.dispatch('utc_timestamp', 'lakehouse')(expr)) }}
{%- endmacro %}

{% macro default__utc_timestamp(expr) -%}
    cast({{ expr }} at time zone 'UTC' as timestamp(6))
{%- endmacro %}

{% macro duckdb__utc_timestamp(expr) -%}
    cast({{ expr }} at time zone 'UTC' as timestamp)
{%- endmacro %}

{#- An instant (timestamp with time zone) as milliseconds since 1970-01-01 UTC, a bigint: a timestamp's text in
    surrogate keys, the same on both engines and in any session time zone. Milliseconds, because Trino's Delta
    connector reads a Delta timestamp as timestamp(3) with time zone (silver's timestamps carry milliseconds); two
    versions less than a millisecond apart would share a key, which the key's unique test would report. -#}
{% macro epoch_ms(expr) -%}
    {{ return(adapter.dispatch('epoch_ms', 'lakehouse')(expr)) }}
{%- endmacro %}

{% macro default__epoch_ms(expr) -%}
    date_diff('millisecond', from_unixtime(0), {{ expr }})
{%- endmacro %}

{% macro duckdb__epoch_ms(expr) -%}
    epoch_ms({{ expr }})
{%- endmacro %}
