"""Bronze job: ingest every landing file not taken yet into the bronze Delta tables (bad lines go to bronze.quarantine).

Runs alone as `spark-submit jobs/bronze.py` or `python jobs/bronze.py`; `lakehouse run` runs it with the others.
"""

import argparse

from lakehouse.launcher import run_layer_job


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.parse_args(argv)
    run_layer_job("bronze")


if __name__ == "__main__":
    main()
