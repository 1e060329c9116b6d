"""`python -m catalog`: the same as the `catalog` console script."""

from catalog.cli.main import run

run()
