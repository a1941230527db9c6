"""Each ad's results per day, in SQL: what fatigue, winners, budgets and charts all start from.

A day's platform numbers are the sum of its snapshot (whole day) or of its hours. CRM
conversions are counted per day they happened; where the platform also reports conversions
for the day, the larger of the two counts is taken, because both count the same people and
adding them would count a buyer twice.
"""

from __future__ import annotations

# A CTE named `daily` with one row per ad and day since %(since)s (a date), for the ads the
# caller's `ad_filter` (an SQL condition on `jobs_ad AS ad`) admits. Snapshots and CRM
# conversions are one stream grouped once (no join of two groupings): sorted, its groups come in
# (ad, day) order, which is what the fatigue pass's windows need. Casts are made in the sums, so
# a column the caller does not use costs nothing.
DAILY_METRICS_CTE = """
daily_rows AS (
    SELECT s.ad_id, s.day, s.impressions, s.reach, s.clicks, s.spend, s.video_views,
           s.conversions, s.revenue, FALSE AS crm
    FROM jobs_adsnapshot s
    JOIN jobs_ad ad ON ad.id = s.ad_id
    WHERE s.day >= %(since)s AND ({ad_filter})
    UNION ALL
    SELECT c.ad_id, (c.occurred_at AT TIME ZONE 'UTC')::date, NULL, NULL, NULL, NULL, NULL,
           1, c.revenue, TRUE
    FROM jobs_crmconversion c
    JOIN jobs_ad ad ON ad.id = c.ad_id
    WHERE c.counts AND c.occurred_at >= %(since)s AND ({ad_filter})
),
daily AS (
    SELECT ad_id, day,
           COALESCE(SUM(impressions::float8), 0) AS impressions,
           SUM(reach::float8) AS reach,
           COALESCE(SUM(clicks::float8), 0) AS clicks,
           COALESCE(SUM(spend::float8), 0) AS spend,
           COALESCE(SUM(video_views::float8), 0) AS video_views,
           GREATEST(COALESCE(SUM(conversions::float8) FILTER (WHERE NOT crm), 0),
                    COUNT(*) FILTER (WHERE crm)) AS conversions,
           GREATEST(COALESCE(SUM(revenue::float8) FILTER (WHERE NOT crm), 0),
                    COALESCE(SUM(revenue::float8) FILTER (WHERE crm), 0)) AS revenue
    FROM daily_rows
    GROUP BY ad_id, day
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
