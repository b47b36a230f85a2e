-- How fresh each site's data is: its last signal record and last heartbeat, and how many
-- hours each lags behind the reference time. A site that stopped sending shows the
-- largest lag first.
-- param now = : reference time, ISO 8601 with a zone (empty: the current time)
WITH ref AS (
    SELECT COALESCE(CAST(NULLIF($now, '') AS TIMESTAMPTZ), now()) AS now
),
sig AS (SELECT site, max(ts) AS last_signal FROM signals GROUP BY site),
hb AS (SELECT site, max("at") AS last_heartbeat FROM heartbeats GROUP BY site),
sites AS (SELECT site FROM sig UNION SELECT site FROM hb)
SELECT s.site, sig.last_signal, hb.last_heartbeat,
       round(epoch(ref.now - sig.last_signal) / 3600, 2) AS signal_lag_h,
       round(epoch(ref.now - hb.last_heartbeat) / 3600, 2) AS heartbeat_lag_h
FROM sites s
LEFT JOIN sig ON sig.site = s.site
LEFT JOIN hb ON hb.site = s.site
CROSS JOIN ref
ORDER BY greatest(signal_lag_h, heartbeat_lag_h) DESC NULLS FIRST, s.site
