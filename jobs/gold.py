"""Gold job: rebuild clickstream sessions and daily product metrics for the days that received new data.

Runs alone as `spark-submit jobs/gold.py` or `python jobs/gold.py`; `lakehouse run` runs it with the others.
"""

import argparse

from lakehouse.launcher import run_layer_job


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.parse_args(argv)
    run_layer_job("gold")


if __name__ == "__main__":
    main()
