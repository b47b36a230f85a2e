"""The object-store seam that the device's uplink and the cloud jobs share.

Both sides move bytes to the same kinds of target (an S3 bucket or a local folder) with
the same promises, so the rules live here once:

* ``keys``: what a safe object key is, and the local folder's own dot-folders
  (``.tmp``, ``.meta``, ``.multipart``) that are never objects.
* ``localfs``: the create-only local write (fsynced temp file, hard link, fsynced folder).
* ``s3errors``: one table that classifies botocore errors into kinds; each side turns a
  kind into its own error tree with its own wording.
* ``s3client``: one boto3 session and config builder (credential fields, timeouts,
  path-style addressing for custom endpoints, checksums only when required).

This package imports neither ``fieldagent`` nor ``cloudjobs`` (``.importlinter``).
"""
