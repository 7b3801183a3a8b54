"""`python -m lakehouse.devtools.sqllint`: lint the dbt project's SQL with sqlfluff's dbt templater (`make lint`).

The templater compiles the project with dbt, so it gets the environment `lakehouse dbt` would give it, against a
throwaway warehouse: linting needs no data.
"""

from __future__ import annotations

import os
import sys
import tempfile

from lakehouse import dbt
from lakehouse.settings import Settings
from lakehouse.warehouse import Warehouse


def main(argv: list[str] | None = None) -> None:
    from sqlfluff.cli.commands import cli

    with tempfile.TemporaryDirectory(prefix="lakehouse-sqllint-") as scratch:
        os.environ.update(dbt.environment(Warehouse(Settings(warehouse=scratch))))
        paths = argv if argv is not None else sys.argv[1:]
        cli.main(args=["lint", *(paths or [str(dbt.PROJECT_DIR)])], prog_name="sqlfluff")


if __name__ == "__main__":
    main()
