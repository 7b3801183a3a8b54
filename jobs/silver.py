"""Silver job: type, validate, deduplicate and upsert the new bronze batches (rule breakers go to silver.quarantine).

Runs alone as `spark-submit jobs/silver.py` or `python jobs/silver.py`; `lakehouse run` runs it with the others.
"""

import argparse

from lakehouse.launcher import run_layer_job


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.parse_args(argv)
    run_layer_job("silver")


if __name__ == "__main__":
    main()
