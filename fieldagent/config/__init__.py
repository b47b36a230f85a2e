"""Typed site configuration.

``fieldagent.config.site.load_site_config(path)`` is the entry point; it raises
:class:`fieldagent.errors.ConfigError` listing every problem as
``file: key.path: value: what is wrong``. This package's ``__init__`` stays
empty of imports so that every section module can import ``config.base``.
"""
