"""Each ad's results per day, in SQL: what fatigue, winners, budgets and charts all start from.

A day's platform numbers are the sum of its snapshot (whole day) or of its hours. CRM
conversions are counted per day they happened; where the platform also reports conversions
for the day, the larger of the two counts is taken, because both count the same people and
adding them would count a buyer twice.
"""

from __future__ import annotations

# A CTE named `daily` with one row per ad and day since %(since)s (a date), for the ads the
# caller's `ad_filter` (an SQL condition on `jobs_ad AS ad`) admits.
DAILY_METRICS_CTE = """
daily_platform AS (
    SELECT s.ad_id, s.day,
           SUM(s.impressions::float8) AS impressions,
           SUM(s.reach::float8) AS reach,
           SUM(s.clicks::float8) AS clicks,
           SUM(s.spend::float8) AS spend,
           SUM(s.video_views::float8) AS video_views,
           SUM(s.conversions::float8) AS conversions,
           SUM(s.revenue::float8) AS revenue
    FROM jobs_adsnapshot s
    JOIN jobs_ad ad ON ad.id = s.ad_id
    WHERE s.day >= %(since)s AND ({ad_filter})
    GROUP BY s.ad_id, s.day
),
daily_crm AS (
    SELECT c.ad_id, (c.occurred_at AT TIME ZONE 'UTC')::date AS day,
           COUNT(*)::float8 AS conversions, SUM(c.revenue::float8) AS revenue
    FROM jobs_crmconversion c
    JOIN jobs_ad ad ON ad.id = c.ad_id
    WHERE c.counts AND c.occurred_at >= %(since)s AND ({ad_filter})
    GROUP BY 1, 2
),
daily AS (
    SELECT COALESCE(p.ad_id, c.ad_id) AS ad_id,
           COALESCE(p.day, c.day) AS day,
           COALESCE(p.impressions, 0) AS impressions,
           p.reach,
           COALESCE(p.clicks, 0) AS clicks,
           COALESCE(p.spend, 0) AS spend,
           COALESCE(p.video_views, 0) AS video_views,
           GREATEST(COALESCE(p.conversions, 0), COALESCE(c.conversions, 0)) AS conversions,
           GREATEST(COALESCE(p.revenue, 0), COALESCE(c.revenue, 0)) AS revenue
    FROM daily_platform p
    FULL JOIN daily_crm c ON c.ad_id = p.ad_id AND c.day = p.day
)
"""


def tune_for_all_ads(cursor) -> None:
    """Settings for one statement over every ad's days (inside a transaction: SET LOCAL).

    JIT compiling such a statement costs more than running it, and sorting the days of
    10,000 ads takes about 100 MB: far faster in memory than spilled to disk.
    """
    cursor.execute("SET LOCAL jit = off; SET LOCAL work_mem = '256MB'")


def daily_metrics_cte(ad_filter: str = "TRUE") -> str:
    """The `daily` CTE (without WITH), limited to the ads `ad_filter` admits."""
    return DAILY_METRICS_CTE.format(ad_filter=ad_filter)
