"""The `catalog` command line: a client of the library (catalog.resolve, catalog.check, catalog.plan)."""
