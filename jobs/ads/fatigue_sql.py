"""The fatigue pass in SQL: one statement over all ads (jobs/ads/fatigue.py explains the method).

Its cost is the windows over every ad's days (about 900,000 rows for 10,000 ads × 90 days), so
they read the rows in the order of one sort and carry only the columns that later steps use.
PostgreSQL runs window functions in one process only (they are parallel restricted), so the
writes at the end of the statement cost it no parallel workers.
"""

from __future__ import annotations

# Window levels over one ad's days in day order, sharing the one sort of the days' GROUP BY.
# Parameters that are floats are cast: a bare 0.5 is numeric in PostgreSQL, and numeric
# arithmetic on every row is slow.
FATIGUE_SQL = """
WITH {daily},
scope AS (
    SELECT ad.id AS ad_id, ad.status AS ad_status, campaign.status AS campaign_status,
           ad.narration_job_id IS NOT NULL AS narrated
      FROM jobs_ad ad JOIN jobs_campaign campaign ON campaign.id = ad.campaign_id
     WHERE {scope}
),
days AS (
    SELECT ad_id, day, impressions, clicks, conversions, NULLIF(reach, 0) AS reach,
           clicks / sqrt(impressions) AS u_ctr, sqrt(impressions) AS v_ctr,
           conversions / sqrt(NULLIF(clicks, 0)) AS u_cvr, sqrt(NULLIF(clicks, 0)) AS v_cvr
      FROM daily
     WHERE impressions >= %(min_impressions)s AND day < %(today)s
),
running AS (
    SELECT ad_id, day, impressions, clicks, conversions, reach, row_number() OVER ordered AS i,
           SUM(u_ctr) OVER ordered AS su_ctr, SUM(v_ctr) OVER ordered AS sv_ctr,
           SUM(u_cvr) OVER ordered AS su_cvr, SUM(v_cvr) OVER ordered AS sv_cvr,
           u_ctr - LAG(u_ctr) OVER ordered AS du_ctr, v_ctr - LAG(v_ctr) OVER ordered AS dv_ctr,
           u_cvr - LAG(u_cvr) OVER ordered AS du_cvr, v_cvr - LAG(v_cvr) OVER ordered AS dv_cvr
      FROM days
    WINDOW ordered AS (PARTITION BY ad_id ORDER BY day ROWS UNBOUNDED PRECEDING)
),
baselined AS (
    SELECT ad_id, day, i, impressions, clicks, conversions, reach, su_ctr, sv_ctr, su_cvr, sv_cvr,
           COUNT(*) OVER whole AS n,
           SUM(clicks) FILTER (WHERE i <= %(baseline_days)s) OVER whole
             / SUM(impressions) FILTER (WHERE i <= %(baseline_days)s) OVER whole AS p_ctr,
           SUM(conversions) FILTER (WHERE i <= %(baseline_days)s AND clicks > 0) OVER whole
             / NULLIF(SUM(clicks) FILTER (WHERE i <= %(baseline_days)s) OVER whole, 0) AS p_cvr,
           SUM(du_ctr * du_ctr) OVER whole AS uu_ctr, SUM(du_cvr * du_cvr) OVER whole AS uu_cvr,
           SUM(du_ctr * dv_ctr) OVER whole AS uv_ctr, SUM(du_cvr * dv_cvr) OVER whole AS uv_cvr,
           SUM(dv_ctr * dv_ctr) OVER whole AS vv_ctr, SUM(dv_cvr * dv_cvr) OVER whole AS vv_cvr,
           COUNT(du_cvr) OVER whole AS dn_cvr
      FROM running
    WINDOW whole AS (PARTITION BY ad_id ORDER BY day
                     ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
),
-- Each step ordered: computed once per row, not again wherever used, and the rows keep the
-- order of the windows (they come in that order: no sort).
varied AS (
    SELECT ad_id, day, i, n, impressions, clicks, conversions, reach,
           su_ctr, sv_ctr, su_cvr, sv_cvr, p_ctr, p_cvr, q_ctr, q_cvr,
           GREATEST(1, (uu_ctr - 2 * p_ctr * uv_ctr + p_ctr * p_ctr * vv_ctr) / q_ctr
                       / NULLIF(2 * (n - 1), 0)) AS phi_ctr,
           GREATEST(1, (uu_cvr - 2 * p_cvr * uv_cvr + p_cvr * p_cvr * vv_cvr) / q_cvr
                       / NULLIF(2 * dn_cvr, 0)) AS phi_cvr
      FROM (SELECT *, NULLIF(GREATEST(p_ctr * (1 - p_ctr), 0), 0) AS q_ctr,
                      NULLIF(GREATEST(p_cvr * (1 - p_cvr), 0), 0) AS q_cvr
              FROM baselined ORDER BY ad_id, day) b
    ORDER BY ad_id, day
),
-- C of a day is Σ z + k·(days after the baseline), z = (x − m·p0) / sd / √m summed through
-- the running sums, sd = √(φ·p0·(1 − p0)); its running maximum starts on the last baseline day.
scaled AS (
    SELECT ad_id, day, i, n, impressions, clicks, conversions, reach, phi_ctr, phi_cvr,
           (su_ctr - p_ctr * sv_ctr) / sd_ctr
           + %(k)s::float8 * GREATEST(i - %(baseline_days)s, 0) AS c_ctr,
           (su_cvr - p_cvr * sv_cvr) / sd_cvr
           + %(k)s::float8 * GREATEST(i - %(baseline_days)s, 0) AS c_cvr,
           CASE WHEN i > %(baseline_days)s THEN (clicks - impressions * p_ctr)
                / (sd_ctr * sqrt(impressions)) + %(k)s::float8 END AS y_ctr,
           CASE WHEN i > %(baseline_days)s THEN (conversions - clicks * p_cvr)
                / (sd_cvr * sqrt(NULLIF(clicks, 0))) + %(k)s::float8 END AS y_cvr
      FROM (SELECT *, sqrt(phi_ctr * q_ctr) AS sd_ctr, sqrt(phi_cvr * q_cvr) AS sd_cvr
              FROM varied ORDER BY ad_id, day) v
    ORDER BY ad_id, day
),
cusum AS (
    SELECT ad_id, day, i, n, impressions, clicks, conversions, reach, phi_ctr, phi_cvr,
           y_ctr, y_cvr,
           CASE WHEN i >= %(baseline_days)s
                THEN c_ctr - MAX(c_ctr) FILTER (WHERE i >= %(baseline_days)s) OVER ordered
                ELSE 0 END AS s_ctr,
           CASE WHEN i >= %(baseline_days)s
                THEN c_cvr - MAX(c_cvr) FILTER (WHERE i >= %(baseline_days)s) OVER ordered
                ELSE 0 END AS s_cvr
      FROM scaled
    WINDOW ordered AS (PARTITION BY ad_id ORDER BY day ROWS UNBOUNDED PRECEDING)
),
-- Over all days: when the CUSUM last stood at 0 and when its current alarm began. The rest
-- needs only the baseline and the last 2 × recent days: the final step reads those alone.
marked AS (
    SELECT ad_id, day, i, n, impressions, clicks, conversions, reach, phi_ctr, phi_cvr,
           s_ctr, s_cvr,
           MAX(i) FILTER (WHERE s_ctr >= 0) OVER whole AS z_ctr,
           MAX(day) FILTER (WHERE s_ctr >= 0) OVER whole AS zero_ctr,
           MAX(day) FILTER (WHERE s_ctr <= -%(h)s::float8 AND s_ctr - y_ctr > -%(h)s::float8)
             OVER whole AS alarm_ctr,
           MAX(i) FILTER (WHERE s_cvr >= 0) OVER whole AS z_cvr,
           MAX(day) FILTER (WHERE s_cvr >= 0) OVER whole AS zero_cvr,
           MAX(day) FILTER (WHERE s_cvr <= -%(h)s::float8 AND s_cvr - y_cvr > -%(h)s::float8)
             OVER whole AS alarm_cvr
      FROM cusum
    WINDOW whole AS (PARTITION BY ad_id ORDER BY day
                     ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
),
kept AS (
    SELECT *, i <= %(baseline_days)s AS baseline, i > n - 2 * %(recent_days)s AS tail,
           i > n - LEAST(%(recent_days)s, GREATEST(%(min_recent_days)s, n - z_ctr))
             AS recent_ctr,
           i > n - LEAST(%(recent_days)s, GREATEST(%(min_recent_days)s, n - z_cvr))
             AS recent_cvr
      FROM marked
     WHERE i <= %(baseline_days)s OR i > n - 2 * %(recent_days)s
),
summed AS (
    SELECT ad_id, MIN(n) AS n, MAX(day) AS last_day,
           SUM(impressions) FILTER (WHERE baseline AND reach IS NOT NULL)
             / SUM(reach) FILTER (WHERE baseline) AS frequency0,
           SUM(clicks) FILTER (WHERE baseline) / SUM(impressions) FILTER (WHERE baseline) AS p_ctr,
           SUM(impressions) FILTER (WHERE baseline) AS m0_ctr,
           SUM(clicks) FILTER (WHERE baseline) AS x0_ctr,
           MIN(phi_ctr) AS phi_ctr,
           MIN(s_ctr) FILTER (WHERE i = n) AS s_ctr,
           MIN(alarm_ctr) AS alarm_ctr, MIN(zero_ctr) AS zero_ctr,
           SUM(impressions) FILTER (WHERE recent_ctr) AS mr_ctr,
           SUM(clicks) FILTER (WHERE recent_ctr) AS xr_ctr,
           SUM(impressions) FILTER (WHERE recent_ctr AND reach IS NOT NULL)
             / SUM(reach) FILTER (WHERE recent_ctr) AS f_ctr,
           regr_slope(ln((clicks + 0.5) / impressions), day - DATE '2000-01-01')
             FILTER (WHERE tail) AS b_ctr,
           SUM(conversions) FILTER (WHERE baseline AND clicks > 0)
             / NULLIF(SUM(clicks) FILTER (WHERE baseline), 0) AS p_cvr,
           SUM(conversions) FILTER (WHERE baseline AND clicks > 0) AS x0_cvr,
           MIN(phi_cvr) AS phi_cvr,
           MIN(s_cvr) FILTER (WHERE i = n) AS s_cvr,
           MIN(alarm_cvr) AS alarm_cvr, MIN(zero_cvr) AS zero_cvr,
           SUM(clicks) FILTER (WHERE recent_cvr AND clicks > 0) AS mr_cvr,
           SUM(conversions) FILTER (WHERE recent_cvr AND clicks > 0) AS xr_cvr,
           SUM(impressions) FILTER (WHERE recent_cvr AND clicks > 0 AND reach IS NOT NULL)
             / SUM(reach) FILTER (WHERE recent_cvr AND clicks > 0) AS f_cvr,
           regr_slope(ln((conversions + 0.5) / clicks), day - DATE '2000-01-01')
             FILTER (WHERE tail AND clicks > 0) AS b_cvr
      FROM kept GROUP BY ad_id
),
metrics AS (
    SELECT s.ad_id, s.n, s.frequency0, m.*, s.last_day - m.zero_day AS decline_days
      FROM summed s CROSS JOIN LATERAL (VALUES
           ('ctr', s.p_ctr, s.m0_ctr, s.x0_ctr, s.phi_ctr, s.s_ctr, s.alarm_ctr, s.zero_ctr,
            s.mr_ctr, s.xr_ctr / s.mr_ctr, s.f_ctr, exp(s.b_ctr) - 1),
           ('conversion_rate', s.p_cvr, s.x0_ctr, s.x0_cvr, s.phi_cvr, s.s_cvr, s.alarm_cvr,
            s.zero_cvr, s.mr_cvr, s.xr_cvr / s.mr_cvr, s.f_cvr, exp(s.b_cvr) - 1))
           AS m (metric, p0, trials0, successes0, phi, s_last, alarm_day, zero_day,
                 trials_recent, rate, frequency, slope)
     WHERE s.n >= %(min_days)s AND m.p0 > 0 AND m.p0 < 1
       AND (m.metric = 'ctr' OR m.successes0 >= %(min_conversions)s)
),
judged AS (
    SELECT *, s_last <= -%(h)s::float8 AND drop >= %(min_drop)s::float8
              AND (rate - p0) / sqrt(phi * p0 * (1 - p0) * (1 / trials0 + 1 / trials_recent))
                  <= -%(drop_z)s::float8 AS fatigued,
           COALESCE(frequency >= frequency0 * (1 + %(frequency_rise)s::float8), FALSE)
             AS frequency_rose,
           CASE metric WHEN 'ctr' THEN 'CTR' ELSE 'conversion rate' END AS label
      FROM (SELECT *, 1 - rate / p0 AS drop FROM metrics) s
),
evidence AS (
    SELECT j.*, scope.narrated,
           (ARRAY['warning', 'high', 'critical'])[LEAST(3, 1 + frequency_rose::int
               + (drop >= %(high_drop)s::float8)::int
               + (drop >= %(critical_drop)s::float8)::int)] AS severity,
           upper(left(label, 1)) || substr(label, 2) || ' fell ' || round(100 * drop) || ' %%'
           || ' from ' || to_char(100 * p0, 'FM990.09') || ' %% to '
           || to_char(100 * rate, 'FM990.09') || ' %% over ' || decline_days || ' days'
           || CASE WHEN frequency_rose THEN ' while frequency rose from '
                   || to_char(frequency0, 'FM990.0') || ' to ' || to_char(frequency, 'FM990.0')
                   ELSE '' END AS statement
      FROM judged j JOIN scope USING (ad_id)
),
per_ad AS (
    SELECT ad_id, COALESCE(bool_or(fatigued), FALSE) AS fatigued,
           string_agg(statement || '.', ' ' ORDER BY metric DESC) FILTER (WHERE fatigued)
             AS fatigue,
           'Not fatigued over ' || MIN(n) || ' days: ' || string_agg(label || ' '
           || to_char(100 * rate, 'FM990.09') || ' %% now, ' || to_char(100 * p0, 'FM990.09')
           || ' %% at first' || CASE WHEN s_last <= -%(h)s::float8 AND drop >= %(min_drop)s::float8
              THEN ' (down ' || round(100 * drop) || ' %%, not yet beyond its noise)' ELSE '' END,
           '; ' ORDER BY metric DESC) || '.' AS health
      FROM evidence GROUP BY ad_id
),
results AS (
    SELECT scope.ad_id, CASE
             WHEN scope.ad_status <> 'active' OR scope.campaign_status <> 'active'
               THEN 'not_active'
             WHEN per_ad.ad_id IS NULL THEN 'insufficient_data'
             WHEN per_ad.fatigued THEN 'fatigued' ELSE 'healthy' END AS state,
           left(CASE
             WHEN scope.ad_status <> 'active' THEN 'The ad is ' || scope.ad_status || '.'
             WHEN scope.campaign_status <> 'active'
               THEN 'Its campaign is ' || scope.campaign_status || '.'
             WHEN COALESCE(counted.n, 0) < %(min_days)s THEN COALESCE(counted.n, 0)
               || CASE WHEN counted.n = 1 THEN ' day' ELSE ' days' END || ' with at least '
               || %(min_impressions)s || ' impressions; fatigue needs ' || %(min_days)s || '.'
             WHEN per_ad.ad_id IS NULL THEN 'No clicks in its first ' || %(baseline_days)s
               || ' days with at least ' || %(min_impressions)s || ' impressions.'
             WHEN per_ad.fatigued THEN per_ad.fatigue ELSE per_ad.health END, 300) AS reason
      FROM scope
      LEFT JOIN summed counted USING (ad_id)
      LEFT JOIN per_ad USING (ad_id)
),
opened AS (
    INSERT INTO jobs_fatiguefinding AS f (
        ad_id, metric, severity, is_open, first_detected_at, last_detected_at, alarm_day,
        baseline_rate, recent_rate, drop, slope_per_day, cusum, days_observed,
        frequency_baseline, frequency_recent, recommendation)
    -- alarm_day is never missing on a fatigued metric; the fallback only guards the NOT NULL.
    SELECT ad_id, metric, severity, TRUE, %(now)s, %(now)s, COALESCE(alarm_day, zero_day + 1),
           p0, rate, drop,
           COALESCE(slope, 0), s_last, n, frequency0, frequency,
           statement || CASE WHEN narrated THEN %(refresh)s ELSE %(replace)s END
      FROM evidence WHERE fatigued
        ON CONFLICT (ad_id, metric) WHERE is_open DO UPDATE SET
           severity = EXCLUDED.severity, last_detected_at = EXCLUDED.last_detected_at,
           alarm_day = EXCLUDED.alarm_day, baseline_rate = EXCLUDED.baseline_rate,
           recent_rate = EXCLUDED.recent_rate, drop = EXCLUDED.drop,
           slope_per_day = EXCLUDED.slope_per_day, cusum = EXCLUDED.cusum,
           days_observed = EXCLUDED.days_observed,
           frequency_baseline = EXCLUDED.frequency_baseline,
           frequency_recent = EXCLUDED.frequency_recent, recommendation = EXCLUDED.recommendation
    RETURNING f.xmax = 0 AS inserted
),
resolved AS (
    UPDATE jobs_fatiguefinding f SET is_open = FALSE, resolved_at = %(now)s
      FROM evidence e
     WHERE f.is_open AND f.ad_id = e.ad_id AND f.metric = e.metric AND NOT e.fatigued
    RETURNING f.id
),
ads AS (
    UPDATE jobs_ad ad SET fatigue = r.state, fatigue_reason = r.reason,
           fatigue_checked_at = %(now)s
      FROM results r
     WHERE ad.id = r.ad_id AND (r.state <> 'not_active' OR ad.fatigue <> r.state
                                OR ad.fatigue_reason <> r.reason)
)
SELECT (SELECT COUNT(*) FROM results WHERE state <> 'not_active'),
       (SELECT COUNT(*) FROM results WHERE state = 'fatigued'),
       (SELECT COUNT(*) FROM results WHERE state = 'healthy'),
       (SELECT COUNT(*) FROM results WHERE state = 'insufficient_data'),
       (SELECT COUNT(*) FROM results WHERE state = 'not_active'),
       (SELECT COUNT(*) FROM opened WHERE inserted),
       (SELECT COUNT(*) FROM resolved)
"""
