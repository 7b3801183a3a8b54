"""The pipeline: steps that take landing files through bronze, silver and gold, and the dbt step after them."""

# The layers of a run, in order: Spark's three, then dbt's dimensional gold.
SPARK_LAYERS = ("bronze", "silver", "gold")
LAYERS = (*SPARK_LAYERS, "dbt")
