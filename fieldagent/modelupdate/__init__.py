"""Safe on-device model updates: signed releases, staged rollout, trial, automatic rollback.

The path of a release through the device::

    channel (file:// or s3://)  ->  signing.verify  ->  manifest checks (expiry, version,
    agent version, rollout)  ->  install.download (size + SHA-256)  ->  install.validate
    (load, golden vectors, latency)  ->  store trial slot  ->  health.judge  ->  commit or
    rollback

``cloudjobs release`` (``cloudjobs/release/``) creates the keys and publishes releases.
This ``__init__`` imports nothing, so the site config can import ``modelupdate.config``
without loading onnxruntime.
"""
