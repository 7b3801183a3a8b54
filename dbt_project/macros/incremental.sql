{#- Incremental gold models. The pipeline's dbt step sets the batch the models were last built from in the
    environment (LAKEHOUSE_DBT_SINCE_BATCH=41, lakehouse/dbt.py); an incremental model then rebuilds only what later
    batches touched (the changed orders, or the days that received rows) by delete+insert on its key, which
    dbt-duckdb and dbt-trino on Trino's Delta connector both do. Without it (a plain `lakehouse dbt build`)
    since_batch is 0: every key is rebuilt, which is slower and gives the same table. `--full-refresh` builds the
    tables anew. -#}

{#- Read only when a model runs (`execute`), not while dbt parses the project: a value read while parsing would make
    dbt parse again every file that reads it whenever it changes, which is every build. -#}
{% macro since_batch() -%}
    {%- if execute -%}
        {{ env_var('LAKEHOUSE_DBT_SINCE_BATCH', '0') | int }}
    {%- else -%}
        0
    {%- endif -%}
{%- endmacro %}

{#- What batches after since_batch() touched, as a one-column query. A model using it names the staging model it
    reads in a `-- depends_on:` line: dbt parses models with is_incremental() false, so it would not see the ref. -#}
{% macro touched(kind) -%}
    {%- if kind == 'orders' -%}
        select order_id from {{ ref('stg_orders') }} where _batch_id > {{ since_batch() }}
    {%- elif kind == 'order_days' -%}
        select distinct order_date from {{ ref('stg_orders') }} where _batch_id > {{ since_batch() }}
    {%- elif kind == 'event_days' -%}
        select distinct event_date from {{ ref('stg_events') }} where _batch_id > {{ since_batch() }}
    {%- elif kind == 'movement_days' -%}
        select distinct movement_date from {{ ref('stg_inventory_movements') }} where _batch_id > {{ since_batch() }}
    {%- else -%}
        {{ exceptions.raise_compiler_error("touched(): unknown kind '" ~ kind ~ "'") }}
    {%- endif -%}
{%- endmacro %}

{#- The days later batches touched, as constants for `where <day> in (...)`: read when the model runs, so that the
    engine prunes a table's files (a Delta table's partitions, a DuckDB table's row groups) by them, which it cannot do
    by a subquery's answer. No day touched reads as `null`, which matches none. -#}
{% macro touched_days(kind) -%}
    {%- if not execute or not is_incremental() -%}
        {{ touched(kind) }}
    {%- else -%}
        {%- set query = 'select cast(touched_day as varchar) from (' ~ touched(kind) ~ ') as touched_days (touched_day)' -%}
        {%- set days = run_query(query).columns[0].values() | reject('none') | list -%}
        {%- for day in days | sort %}date '{{ day }}'{{ ', ' if not loop.last }}{% endfor -%}
        {{- 'null' if not days -}}
    {%- endif -%}
{%- endmacro %}

{#- The first day a rolling or running model must rebuild from: the earliest day later batches touched, or the day
    after the last one it holds (a day the calendar gained without rows of this kind), whichever is earlier. A
    constant, read when the model runs, as touched_days' are. -#}
{% macro first_rebuilt_day(kind, day_column) -%}
    {%- set query -%}
    select cast(least(
        coalesce((select min(touched_day) from ({{ touched(kind) }}) as touched_days (touched_day)), date '9999-12-31'),
        coalesce((select cast({{ dbt.dateadd('day', 1, 'max(' ~ day_column ~ ')') }} as date) from {{ this }}), date '0001-01-01')
    ) as varchar)
    {%- endset -%}
    {%- if not execute or not is_incremental() -%}
        cast(({{ query }}) as date)
    {%- else -%}
        date '{{ run_query(query).columns[0].values()[0] }}'
    {%- endif -%}
{%- endmacro %}

{#- The embedded deployment copies each gold model from DuckDB to Delta after the build; for an incremental model it
    copies only the keys the build rebuilds, which this pre-hook records (NULL for every key, on a first or full
    build). On Trino the models are Delta tables already and nothing is recorded. -#}
{% macro record_rebuilt(keys_query) -%}
    {{ return(adapter.dispatch('record_rebuilt', 'lakehouse')(keys_query)) }}
{%- endmacro %}

{% macro default__record_rebuilt(keys_query) -%}
    select 1
{%- endmacro %}

{% macro duckdb__record_rebuilt(keys_query) -%}
    create table if not exists main.lakehouse_rebuilt (model varchar, key_value varchar);
    {% if is_incremental() -%}
        insert into main.lakehouse_rebuilt
        select distinct '{{ this.identifier }}', cast(rebuilt_key as varchar) from ({{ keys_query }}) as rebuilt (rebuilt_key)
    {%- else -%}
        insert into main.lakehouse_rebuilt values ('{{ this.identifier }}', null)
    {%- endif %}
{%- endmacro %}

{#- Forget what the last build recorded (an on-run-start hook). -#}
{% macro reset_rebuilt() -%}
    {{ return(adapter.dispatch('reset_rebuilt', 'lakehouse')()) }}
{%- endmacro %}

{% macro default__reset_rebuilt() -%}
    select 1
{%- endmacro %}

{% macro duckdb__reset_rebuilt() -%}
    create or replace table main.lakehouse_rebuilt (model varchar, key_value varchar)
{%- endmacro %}

{#- dbt's is_incremental(), except when the project is compiled without a database (`compile_offline`, as
    lakehouse/dbt.py's compile_for_trino does): asking whether the table exists needs a connection, so the full
    build is compiled instead. -#}
{% macro is_incremental() -%}
    {%- if var('compile_offline', false) -%}
        {{ return(false) }}
    {%- endif -%}
    {{ return(dbt.is_incremental()) }}
{%- endmacro %}
