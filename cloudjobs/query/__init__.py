"""SQL over the lake with DuckDB: ``engine.Lake`` (datasets as views), saved queries
(``saved/*.sql``), output formats, and the ``cloudjobs query`` command (``cli.main``)."""
