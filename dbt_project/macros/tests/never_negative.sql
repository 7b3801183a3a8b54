{#- Fails with the rows where the column is below zero. -#}
{% test never_negative(model, column_name) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} < 0
{% endtest %}
