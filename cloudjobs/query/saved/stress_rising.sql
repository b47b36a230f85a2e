-- Zones whose stress score rose most over the last period compared with their peers: the
-- other zones of the same crop (zone_crops view, from --crops FILE) or, without a mapping,
-- of the same zone type (the zone id without its trailing number) at every site.
-- rise = mean stress_score of the period - mean of the period before (trusted readings);
-- peer_rise = mean rise of the other zones of the group; excess = rise - peer_rise.
-- param days = 7: length of a period in days (7: this week against last week)
-- param end = : last day of the period, YYYY-MM-DD (empty: the last day with signals)
-- param top = 20: rows to show
WITH bounds AS (
    SELECT COALESCE(CAST(NULLIF($end, '') AS DATE), CAST(max(date) AS DATE)) AS last_day,
           CAST($days AS INTEGER) AS days
    FROM signals
),
readings AS (
    SELECT s.site, s.camera, s.zone, s.stress_score, s.yellow_fraction,
           CAST(s.date AS DATE) > b.last_day - b.days AS this_period
    FROM signals s, bounds b
    WHERE s.trusted
      AND CAST(s.date AS DATE) <= b.last_day
      AND CAST(s.date AS DATE) > b.last_day - 2 * b.days
),
per_zone AS (
    SELECT site, camera, zone,
           avg(stress_score) FILTER (WHERE NOT this_period) AS stress_before,
           avg(stress_score) FILTER (WHERE this_period) AS stress_now,
           avg(yellow_fraction) FILTER (WHERE NOT this_period) AS yellow_before,
           avg(yellow_fraction) FILTER (WHERE this_period) AS yellow_now
    FROM readings
    GROUP BY site, camera, zone
),
grouped AS (
    SELECT z.*,
           COALESCE(c1.crop, c2.crop,
                    NULLIF(regexp_replace(z.zone, '[-_]?[0-9]+$', ''), ''), z.zone) AS peer_group,
           z.stress_now - z.stress_before AS rise,
           z.yellow_now - z.yellow_before AS yellow_rise
    FROM per_zone z
    LEFT JOIN zone_crops c1 ON c1.site = z.site AND c1.camera = z.camera AND c1.zone = z.zone
    LEFT JOIN zone_crops c2 ON c2.site = z.site AND c2.camera IS NULL AND c2.zone = z.zone
    WHERE z.stress_now IS NOT NULL AND z.stress_before IS NOT NULL
),
compared AS (
    SELECT *,
           count(*) OVER g - 1 AS peers,
           (sum(rise) OVER g - rise) / NULLIF(count(*) OVER g - 1, 0) AS peer_rise
    FROM grouped
    WINDOW g AS (PARTITION BY peer_group)
)
SELECT site, camera, zone, peer_group, peers,
       round(stress_before, 4) AS stress_before, round(stress_now, 4) AS stress_now,
       round(rise, 4) AS rise, round(peer_rise, 4) AS peer_rise,
       round(rise - peer_rise, 4) AS excess, round(yellow_rise, 4) AS yellow_rise
FROM compared
ORDER BY excess DESC NULLS LAST, rise DESC, site, camera, zone
LIMIT CAST($top AS INTEGER)
