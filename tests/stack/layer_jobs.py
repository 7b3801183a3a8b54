"""Run the layer jobs named on the command line one after another in one spark-submit (one JVM start, not one each).

Each runs as `spark-submit jobs/<layer>.py` does (lakehouse.launcher.run_layer_job), under its own lease.
"""

import sys

from lakehouse.launcher import run_layer_job

if __name__ == "__main__":
    for layer in sys.argv[1:]:
        run_layer_job(layer)
