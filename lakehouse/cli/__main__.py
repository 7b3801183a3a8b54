"""`python -m lakehouse.cli` runs the `lakehouse` command."""

from lakehouse.cli import main

main()
