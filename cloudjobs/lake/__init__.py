"""The cloud data lake: raw uploads -> curated Hive-partitioned Parquet (docs/lake.md).

``layout`` (where things live), ``parse`` (raw objects -> rows), ``schema`` (dataset
columns), ``txlog`` (crash- and concurrency-safe commits), ``ingest`` and ``compact``
(the jobs, with their ``main`` functions); ``reader`` (the one way every cloud job reads
the curated datasets, with ``location``), ``errors`` (``LakeError``).
"""
