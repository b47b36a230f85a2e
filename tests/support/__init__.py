"""Importable test helpers: a simulated clock, the uploader rig, real servers and a poor
link on loopback.

* ``clock``: ``SimClock``, the one simulated clock (wall time, monotonic seconds, ``sleep``
  and ``advance`` that never wait) for everything that injects time.
* ``uplink``: ``UplinkRig`` (an outbox, its policy, a ``SimClock`` and uploaders on them)
  with payload and policy helpers; tests get rigs from the ``make_rig`` fixture.
* ``seaweed``: a real S3 server (SeaweedFS ``weed mini``) started and stopped by the tests.
* ``proxy``: ``PoorLink``, a TCP proxy that throttles, delays, stalls, cuts and corrupts.
* ``motoserver``: ``FaultyS3``, moto's S3 behind a middleware that answers chosen requests
  with S3 error responses.

Import as ``from tests.support.seaweed import run_seaweed``; this needs the repository root
on ``sys.path`` (``python -m pytest`` does that, or ``pythonpath = ["."]`` in pytest's config).
"""
