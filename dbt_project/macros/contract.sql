{#- The shop's contract: each feed's accepted values and the order's lifecycle, defined once in
    lakehouse/entities.py. The dbt step hands it over as JSON in the environment (LAKEHOUSE_CONTRACT, set by
    lakehouse/dbt.py for every dbt command), so a new status or event type reaches the accepted_values tests and the
    order models without an edit here. -#}

{% macro contract() -%}
    {{ return(fromjson(env_var('LAKEHOUSE_CONTRACT'))) }}
{%- endmacro %}

{#- The values a feed's field accepts, in the contract's order: accepted_values_of('events', 'event_type'). -#}
{% macro accepted_values_of(feed, field) -%}
    {{ return(contract()['accepted'][feed][field]) }}
{%- endmacro %}

{#- Every status an order can have, `placed` first: an order's status is one of these. -#}
{% macro order_lifecycle() -%}
    {{ return(contract()['order_lifecycle']) }}
{%- endmacro %}

{#- silver.orders' milestone columns (when the order first reached each status), comma-separated, each prefixed with
    `relation.` when given: the order models pass them all on. -#}
{% macro order_milestones(relation=none) -%}
    {%- set prefix = relation ~ '.' if relation else '' -%}
    {%- set columns = [] -%}
    {%- for column in contract()['order_milestones'] -%}
        {%- do columns.append(prefix ~ column) -%}
    {%- endfor -%}
    {{ columns | join(', ') }}
{%- endmacro %}
