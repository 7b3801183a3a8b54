"""Tooling around the product, not the product: the benchmarks (`lakehouse bench`, `lakehouse superset bench`), the
headless-Chromium driver that checks and times the dashboards, and the dbt SQL linter `make lint` runs.

Nothing the pipeline, the SQL engines or Superset's setup run imports from here (tests/test_code_shape.py checks it);
only the CLI commands that are these tools load it, when they are run.
"""
