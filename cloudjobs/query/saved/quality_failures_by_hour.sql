-- Cameras whose images fail again and again at the same hour of day (UTC): a lamp, low sun
-- through a window, condensation at dawn. A failure is an image that was rejected or that
-- failed a blocking quality check (ok = false); causes lists the flags and reject reasons.
-- param days = 14: look back this many days, up to the last day with quality records
-- param min_days = 2: failures at that hour on at least this many different days
-- param min_rate = 0.5: and in at least this share of that hour's images
WITH bounds AS (
    SELECT CAST(max(date) AS DATE) AS last_day FROM quality
),
images AS (
    SELECT q.site, q.camera, hour(q.ts) AS hour_utc, q.date,
           q.status <> 'ok' OR NOT COALESCE(q.ok, FALSE) AS failed,
           list_concat(q.flags, CASE WHEN q.reason IS NULL THEN [] ELSE [q.reason] END) AS why
    FROM quality q, bounds b
    WHERE CAST(q.date AS DATE) > b.last_day - CAST($days AS INTEGER)
)
SELECT site, camera, hour_utc,
       count(*) AS images,
       count(*) FILTER (WHERE failed) AS failures,
       round(count(*) FILTER (WHERE failed) / count(*), 3) AS fail_rate,
       count(DISTINCT date) FILTER (WHERE failed) AS fail_days,
       list_sort(list_distinct(flatten(list(why) FILTER (WHERE failed)))) AS causes
FROM images
GROUP BY site, camera, hour_utc
HAVING count(DISTINCT date) FILTER (WHERE failed) >= CAST($min_days AS INTEGER)
   AND count(*) FILTER (WHERE failed) / count(*) >= CAST($min_rate AS DOUBLE)
ORDER BY fail_rate DESC, failures DESC, site, camera, hour_utc
