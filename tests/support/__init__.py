"""Importable test helpers: real servers and a poor link on loopback.

* ``seaweed``: a real S3 server (SeaweedFS ``weed mini``) started and stopped by the tests.
* ``proxy``: ``PoorLink``, a TCP proxy that throttles, delays, stalls, cuts and corrupts.
* ``motoserver``: ``FaultyS3``, moto's S3 behind a middleware that answers chosen requests
  with S3 error responses.

Import as ``from tests.support.seaweed import run_seaweed``; this needs the repository root
on ``sys.path`` (``python -m pytest`` does that, or ``pythonpath = ["."]`` in pytest's config).
"""
