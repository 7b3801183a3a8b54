{#- True when the version of `versions` (an SCD2 relation with valid_from, valid_to) was valid at `at`: from its
    valid_from, up to but not including its valid_to, open-ended on the current version. Half-open, so at the
    instant of a change exactly one version matches. -#}
{% macro valid_at(versions, at) -%}
    {{ at }} >= {{ versions }}.valid_from and ({{ at }} < {{ versions }}.valid_to or {{ versions }}.valid_to is null)
{%- endmacro %}
