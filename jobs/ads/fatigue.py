"""Fatigue detection: which active ads are wearing out, judged against their own early days.

The pass is one SQL statement over all ads at once (window functions, no loop per ad). Every
number below is a key of `settings.ADS` (environment variable in brackets) or, where marked
*constant*, a name in this module.

**Days.** An ad's history is its `daily` rows (jobs/ads/daily.py) of the last 120 days
(*constant* `HISTORY_DAYS`) before the day the pass runs; that day itself is left out, as it
is not over yet. A day counts when it has at least `FATIGUE_MIN_DAY_IMPRESSIONS` impressions
(SLIDECAST_FATIGUE_MIN_DAY_IMPRESSIONS, 200); the rest are skipped, so a day the ad barely ran
neither raises nor clears an alarm.

**Which ads.** Ads whose status and whose campaign's status are both "active". Any other ad is
marked `not_active` and not analysed; its open findings stay as they are, because pausing an ad
says nothing about whether it recovered: the next pass after it resumes updates or closes them.
An active ad with fewer than `FATIGUE_MIN_DAYS` (SLIDECAST_FATIGUE_MIN_DAYS, 10; never fewer
than the baseline days + 1) counted days is `insufficient_data`, with the reason ("6 days with
at least 200 impressions; fatigue needs 10."), and so is one without a click in its first days
(there is no rate to fall from).

**Metrics.** "ctr" (clicks / impressions) always; "conversion_rate" (conversions / clicks) only
when the baseline days hold at least `FATIGUE_MIN_BASELINE_CONVERSIONS`
(SLIDECAST_FATIGUE_MIN_CONVERSIONS, 30) conversions; its rates leave out days without a click.
Each metric is judged on its own; the ad is `fatigued` if one of them is.

**Baseline.** The first `FATIGUE_BASELINE_DAYS` (SLIDECAST_FATIGUE_BASELINE_DAYS, 7) counted
days: the pooled rate p0 = Σ successes / Σ trials. (An ad older than the history window is
compared with the oldest days in the window.)

**Noise.** Each day's standardized residual is e = (x − m·p0) / √(m·p0·(1 − p0)) for x
successes in m trials. Real traffic varies more than a binomial draw, so the overdispersion
φ = max(1, Σ (e_d − e_{d−1})² / (2·(n − 1))) is estimated over all n counted days, from
day-to-day differences (von Neumann's mean square successive difference): it ignores a slow
decline or a single step, has about ten times the degrees of freedom of the baseline's own
χ², and so makes a naturally noisy ad need more evidence without making a quiet one deaf.

**CUSUM.** After the baseline, z_d = e_d / √φ feeds a lower CUSUM S_d = min(0, S_{d−1} + z_d + k)
with allowance k = `FATIGUE_CUSUM_ALLOWANCE` (SLIDECAST_FATIGUE_CUSUM_K, 0.5), S = 0 on the last
baseline day B. It is computed in closed form, S_t = C_t − max_{B≤j≤t} C_j with
C_t = Σ_{i≤t} z_i + k·(t − B), from running sums of x/√m and √m (no loop). The alarm is on while
S ≤ −h, h = `FATIGUE_CUSUM_THRESHOLD` (SLIDECAST_FATIGUE_CUSUM_H, 5.0); the finding's
`alarm_day` is the day the current alarm began (the last crossing of −h). The decline is taken
to start after the last day S stood at 0 (the CUSUM's change point). For the conversion rate a
day without clicks counts as z = 0.

**Recent rate.** Pooled over the last w counted days, w = the days since the change point,
at least 3 (*constant* `MIN_RECENT_DAYS`) and at most `FATIGUE_RECENT_DAYS`
(SLIDECAST_FATIGUE_RECENT_DAYS, 7): a step is measured by the days after it only, and an ad that
recovered is measured by its latest days. drop = 1 − recent / p0.

**Fatigued** on a metric when all three hold on the latest counted day:
1. the CUSUM alarm is on (S ≤ −h): the decline is lasting, not one bad day;
2. drop ≥ `FATIGUE_MIN_DROP` (SLIDECAST_FATIGUE_MIN_DROP, 0.15): large enough to matter;
3. (recent − p0) / √(φ·p0·(1 − p0)·(1/M0 + 1/Mr)) ≤ −4 (*constant* `DROP_Z`), M0 and Mr the
   baseline's and the recent days' trials: the drop is larger than what the error of a
   7-day baseline and the daily re-checks explain. Without it, simulated steady ads with 15 %
   day-to-day noise were flagged one in five within three months of daily checks; with it, 3
   of 700 steady ads of the tests' generator (110 daily checks), and never on the last day.
   The price: the smallest drop it confirms is about 4·√(2φ / baseline successes), 21 % at
   100 clicks a day but 80 % at 7; until then the reason says "not yet beyond its noise".
Otherwise the metric is healthy and an open finding on it is closed (`resolved_at` set). A
metric that cannot be judged (too little data) leaves its open finding alone.

**Severity** from the drop: warning below 35 %, high from 35 %, critical from 50 %
(*constants* `HIGH_DROP`, `CRITICAL_DROP`), one level higher (at most critical) when the
frequency (impressions / reach, pooled over the days that report reach) of the recent days is
at least 20 % (*constant* `FREQUENCY_RISE`) above the baseline's: the same people see the ad
again and again. Reach is often missing, so frequency raises severity but is never required.

**Evidence** on the finding: baseline and recent rate, drop, the CUSUM value, the days observed,
the baseline and recent frequency, and `slope_per_day`, the relative change of the rate per day
over the last 2 × `FATIGUE_RECENT_DAYS` counted days, exp(b) − 1 for b the least-squares slope
of ln((x + 0.5) / m) on the calendar day. The recommendation is a sentence ("CTR fell 42 % from
2.1 % to 1.2 % over 18 days while frequency rose from 1.4 to 3.1: refresh the creative —
re-render this deck with another persona or preset."); links are the web layer's business.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from jobs.ads.daily import daily_metrics_cte, tune_for_all_ads
from jobs.ads.models import AnalysisRun

HISTORY_DAYS = 120
MIN_RECENT_DAYS = 3
DROP_Z = 4.0
HIGH_DROP = 0.35
CRITICAL_DROP = 0.5
FREQUENCY_RISE = 0.2

ACTIVE = (
    "ad.status = 'active' AND EXISTS (SELECT 1 FROM jobs_campaign c"
    " WHERE c.id = ad.campaign_id AND c.status = 'active')"
)
REFRESH = ": refresh the creative — re-render this deck with another persona or preset."
REPLACE = ": replace the creative."

# Window levels over one ad's days in day order, sharing one sort. Parameters that are floats
# are cast: a bare 0.5 is numeric in PostgreSQL, and numeric arithmetic on every row is slow.
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
           SUM(clicks) FILTER (WHERE i <= %(baseline_days)s) OVER whole AS x0_ctr,
           SUM(impressions) FILTER (WHERE i <= %(baseline_days)s) OVER whole AS m0_ctr,
           SUM(conversions) FILTER (WHERE i <= %(baseline_days)s AND clicks > 0) OVER whole
             AS x0_cvr,
           SUM(du_ctr * du_ctr) OVER whole AS uu_ctr, SUM(du_cvr * du_cvr) OVER whole AS uu_cvr,
           SUM(du_ctr * dv_ctr) OVER whole AS uv_ctr, SUM(du_cvr * dv_cvr) OVER whole AS uv_cvr,
           SUM(dv_ctr * dv_ctr) OVER whole AS vv_ctr, SUM(dv_cvr * dv_cvr) OVER whole AS vv_cvr,
           COUNT(du_cvr) OVER whole AS dn_cvr
      FROM running
    WINDOW whole AS (PARTITION BY ad_id ORDER BY day
                     ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
),
-- C of a day is Σ z + k·(days after the baseline), z = (x − m·p0) / sd / √m summed through
-- the running sums, sd = √(φ·p0·(1 − p0)); its running maximum starts on the last baseline day.
cusum AS (
    SELECT ad_id, day, i, n, impressions, clicks, conversions, reach,
           p_ctr, m0_ctr, x0_ctr, phi_ctr, p_cvr, x0_cvr, phi_cvr,
           CASE WHEN i > %(baseline_days)s THEN (clicks - impressions * p_ctr)
                / (sd_ctr * sqrt(impressions)) + %(k)s::float8 END AS y_ctr,
           CASE WHEN i > %(baseline_days)s THEN (conversions - clicks * p_cvr)
                / (sd_cvr * sqrt(NULLIF(clicks, 0))) + %(k)s::float8 END AS y_cvr,
           CASE WHEN i >= %(baseline_days)s
                THEN c_ctr - MAX(c_ctr) FILTER (WHERE i >= %(baseline_days)s) OVER ordered
                ELSE 0 END AS s_ctr,
           CASE WHEN i >= %(baseline_days)s
                THEN c_cvr - MAX(c_cvr) FILTER (WHERE i >= %(baseline_days)s) OVER ordered
                ELSE 0 END AS s_cvr
      FROM (SELECT b.*, k.*,
                   (su_ctr - p_ctr * sv_ctr) / sd_ctr
                   + %(k)s::float8 * GREATEST(i - %(baseline_days)s, 0) AS c_ctr,
                   (su_cvr - p_cvr * sv_cvr) / sd_cvr
                   + %(k)s::float8 * GREATEST(i - %(baseline_days)s, 0) AS c_cvr
              FROM baselined b
             -- OFFSET 0: computed once per row, not again wherever used (and keeps the order).
             CROSS JOIN LATERAL (
                   SELECT p_ctr, phi_ctr, sqrt(phi_ctr * q_ctr) AS sd_ctr,
                          p_cvr, phi_cvr, sqrt(phi_cvr * q_cvr) AS sd_cvr
                     FROM (SELECT *, GREATEST(1, (b.uu_ctr - 2 * p_ctr * b.uv_ctr + p_ctr * p_ctr
                                  * b.vv_ctr) / q_ctr / NULLIF(2 * (b.n - 1), 0)) AS phi_ctr,
                                  GREATEST(1, (b.uu_cvr - 2 * p_cvr * b.uv_cvr + p_cvr * p_cvr
                                  * b.vv_cvr) / q_cvr / NULLIF(2 * b.dn_cvr, 0)) AS phi_cvr
                             FROM (SELECT *, NULLIF(GREATEST(p_ctr * (1 - p_ctr), 0), 0) AS q_ctr,
                                          NULLIF(GREATEST(p_cvr * (1 - p_cvr), 0), 0) AS q_cvr
                                     FROM (SELECT b.x0_ctr / b.m0_ctr AS p_ctr,
                                                  b.x0_cvr / NULLIF(b.x0_ctr, 0) AS p_cvr) p) q) f
                   OFFSET 0) k
           ) d
    WINDOW ordered AS (PARTITION BY ad_id ORDER BY day ROWS UNBOUNDED PRECEDING)
),
marked AS (
    SELECT *, i > n - 2 * %(recent_days)s AS tail,
           i > n - LEAST(%(recent_days)s, GREATEST(%(min_recent_days)s,
                         n - MAX(i) FILTER (WHERE s_ctr >= 0) OVER whole)) AS recent_ctr,
           i > n - LEAST(%(recent_days)s, GREATEST(%(min_recent_days)s,
                         n - MAX(i) FILTER (WHERE s_cvr >= 0) OVER whole)) AS recent_cvr
      FROM cusum
    WINDOW whole AS (PARTITION BY ad_id ORDER BY day
                     ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
),
summed AS (
    SELECT ad_id, MIN(n) AS n, MAX(day) AS last_day,
           SUM(impressions) FILTER (WHERE i <= %(baseline_days)s AND reach IS NOT NULL)
             / SUM(reach) FILTER (WHERE i <= %(baseline_days)s) AS frequency0,
           MIN(p_ctr) AS p_ctr, MIN(m0_ctr) AS m0_ctr, MIN(x0_ctr) AS x0_ctr,
           MIN(phi_ctr) AS phi_ctr,
           MIN(s_ctr) FILTER (WHERE i = n) AS s_ctr,
           MAX(day) FILTER (WHERE s_ctr <= -%(h)s::float8 AND s_ctr - y_ctr > -%(h)s::float8)
             AS alarm_ctr,
           MAX(day) FILTER (WHERE s_ctr >= 0) AS zero_ctr,
           SUM(impressions) FILTER (WHERE recent_ctr) AS mr_ctr,
           SUM(clicks) FILTER (WHERE recent_ctr) AS xr_ctr,
           SUM(impressions) FILTER (WHERE recent_ctr AND reach IS NOT NULL)
             / SUM(reach) FILTER (WHERE recent_ctr) AS f_ctr,
           regr_slope(ln((clicks + 0.5) / impressions), day - DATE '2000-01-01')
             FILTER (WHERE tail) AS b_ctr,
           MIN(p_cvr) AS p_cvr, MIN(x0_cvr) AS x0_cvr, MIN(phi_cvr) AS phi_cvr,
           MIN(s_cvr) FILTER (WHERE i = n) AS s_cvr,
           MAX(day) FILTER (WHERE s_cvr <= -%(h)s::float8 AND s_cvr - y_cvr > -%(h)s::float8)
             AS alarm_cvr,
           MAX(day) FILTER (WHERE s_cvr >= 0) AS zero_cvr,
           SUM(clicks) FILTER (WHERE recent_cvr AND clicks > 0) AS mr_cvr,
           SUM(conversions) FILTER (WHERE recent_cvr AND clicks > 0) AS xr_cvr,
           SUM(impressions) FILTER (WHERE recent_cvr AND clicks > 0 AND reach IS NOT NULL)
             / SUM(reach) FILTER (WHERE recent_cvr AND clicks > 0) AS f_cvr,
           regr_slope(ln((conversions + 0.5) / clicks), day - DATE '2000-01-01')
             FILTER (WHERE tail AND clicks > 0) AS b_cvr
      FROM marked GROUP BY ad_id
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
SUMMARY_KEYS = (
    "checked", "fatigued", "healthy", "insufficient", "not_active", "opened", "resolved",
)  # fmt: skip


def fatigue_pass(*, now: datetime | None = None, ad_ids: Collection | None = None) -> dict:
    """Return the counts of a fatigue pass over the active ads (or those of `ad_ids`).

    Ads, findings and the run's AnalysisRun are written in one transaction; a second pass
    started meanwhile waits for this one. A failed pass is recorded with its error.
    """
    now = now or timezone.now()
    started = time.monotonic()
    run = AnalysisRun.objects.create(kind=AnalysisRun.Kind.FATIGUE, started_at=timezone.now())
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('jobs.ads.fatigue'))")
            tune_for_all_ads(cursor)
            cursor.execute(*_statement(now=now, ad_ids=ad_ids))
            counts = cursor.fetchone()
    except Exception as error:
        _finish(run, started, summary={}, error=f"{type(error).__name__}: {error}")
        raise
    summary = dict(zip(SUMMARY_KEYS, counts, strict=True))
    summary["duration_ms"] = round((time.monotonic() - started) * 1000)
    _finish(run, started, summary=summary)
    return summary


def _statement(*, now: datetime, ad_ids: Collection | None) -> tuple[str, dict]:
    ads = settings.ADS
    today = now.astimezone(UTC).date()
    scope = "TRUE" if ad_ids is None else "ad.id = ANY(%(ad_ids)s::uuid[])"
    sql = FATIGUE_SQL.format(daily=daily_metrics_cte(f"{ACTIVE} AND {scope}"), scope=scope)
    params = {
        "now": now,
        "today": today,
        "since": today - timedelta(days=HISTORY_DAYS),
        "ad_ids": None if ad_ids is None else [str(ad_id) for ad_id in ad_ids],
        "min_impressions": ads["FATIGUE_MIN_DAY_IMPRESSIONS"],
        "baseline_days": ads["FATIGUE_BASELINE_DAYS"],
        # The CUSUM needs a day after the baseline.
        "min_days": max(ads["FATIGUE_MIN_DAYS"], ads["FATIGUE_BASELINE_DAYS"] + 1),
        "recent_days": ads["FATIGUE_RECENT_DAYS"],
        "min_recent_days": MIN_RECENT_DAYS,
        "k": float(ads["FATIGUE_CUSUM_ALLOWANCE"]),
        "h": float(ads["FATIGUE_CUSUM_THRESHOLD"]),
        "min_drop": float(ads["FATIGUE_MIN_DROP"]),
        "min_conversions": ads["FATIGUE_MIN_BASELINE_CONVERSIONS"],
        "drop_z": DROP_Z,
        "high_drop": HIGH_DROP,
        "critical_drop": CRITICAL_DROP,
        "frequency_rise": FREQUENCY_RISE,
        "refresh": REFRESH,
        "replace": REPLACE,
    }
    return sql, params


def _finish(run: AnalysisRun, started: float, *, summary: dict, error: str = "") -> None:
    run.finished_at = timezone.now()
    run.duration_ms = round((time.monotonic() - started) * 1000)
    run.summary = summary
    run.error = error
    run.save(update_fields=["finished_at", "duration_ms", "summary", "error"])
