"""Run the layer jobs named on the command line one after another in one spark-submit (one JVM start, not one each).

Each runs as `spark-submit jobs/<layer>.py` does (lakehouse.launcher.run_layer_job), under its own lease. With
`--then-collect TABLE`, the table's rows are then fetched to the driver, as an engine that collects would fetch them,
and the outcome printed on one line: whether the driver's result limit lets that through.
"""

import argparse

from lakehouse.launcher import run_layer_job

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("layers", nargs="+")
    parser.add_argument("--then-collect", metavar="TABLE")
    options = parser.parse_args()
    for layer in options.layers:
        run_layer_job(layer)
    if options.then_collect:
        from pyspark.sql import SparkSession

        from lakehouse.settings import load_settings
        from lakehouse.warehouse import Warehouse

        warehouse = Warehouse(load_settings())
        path = warehouse.spark_uri(warehouse.table_uri(options.then_collect))
        try:
            rows = SparkSession.builder.getOrCreate().read.format("delta").load(path).toArrow().num_rows
            print(f"collected {options.then_collect}: {rows} rows")
        except Exception as exc:  # the outcome is what this reports: the line of the error that says why
            lines = str(exc).splitlines()
            why = next((line for line in lines if "maxResultSize" in line), lines[0] if lines else repr(exc))
            print(f"could not collect {options.then_collect}: {why.strip()}")
