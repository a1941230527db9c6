"""Winning ads: which ads beat their campaign with confidence, and "winning ads like this" search.

One SQL statement judges every active ad of every active campaign over WINNER_WINDOW_DAYS on
conversions per impression (in a campaign with WINNER_MIN_CONVERSIONS conversions) or else the
CTR. Conversions per impression is what a cost per conversion is made of at a given price per
impression: an ad that wins it with more clicks, or with clicks that convert more, both count.
An ad qualifies with WINNER_MIN_IMPRESSIONS impressions (and MIN_CLICKS clicks on
conversions); the bar is the median rate of the campaign's qualifying ads, so a campaign with
fewer than two has nobody to beat and no winner. The rate's posterior is Beta(1 + hits,
1 + misses); PostgreSQL has no incomplete beta nor erf, so P(rate > median) uses the normal
approximation of that Beta and Φ(z) ≈ 1 / (1 + exp(−(1.5976 z + 0.07056 z³))) (error < 1.5e-4;
the minimum sample keeps the Beta near normal). A winner has P ≥ WINNER_PROBABILITY and, on
conversions, a cost per conversion ≤ and a ROAS ≥ the campaign medians (ROAS where there is
revenue), so a cheaper price per impression elsewhere is not beaten by rate alone. Others are
un-marked and leave the index: WinnerEntry, the video's words, persona, format, duration and
results embedded with the persona knowledge model (pgvector HNSW, cosine).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone

from jobs.ads.daily import daily_metrics_cte, tune_for_all_ads
from jobs.ads.models import AnalysisRun
from jobs.narration.models import Job, Slide
from jobs.personas.embedding import embedding_model_name, text_embedder

logger = logging.getLogger("slidecast.ads")

MIN_CLICKS = 100  # clicks an ad needs to be judged on conversions (impressions: settings)
MAX_RESULTS = 50
# Characters of a video's words embedded (~1,000 words): a static model averages, more adds little.
_MAX_WORDS = 6_000
_SNIPPET = 240
# HNSW looks at this many neighbours before the owner filter.
_EF_SEARCH = 100

_ACTIVE = (
    "ad.status = 'active' "
    "AND ad.campaign_id IN (SELECT id FROM jobs_campaign WHERE status = 'active')"
)

_JUDGE_SQL = f"""
WITH {daily_metrics_cte(_ACTIVE)},
totals AS (
    SELECT ad.id AS ad_id, ad.campaign_id,
           COALESCE(SUM(d.impressions), 0) AS impressions, COALESCE(SUM(d.clicks), 0) AS clicks,
           COALESCE(SUM(d.conversions), 0) AS conversions, COALESCE(SUM(d.spend), 0) AS spend,
           COALESCE(SUM(d.revenue), 0) AS revenue
    FROM jobs_ad ad LEFT JOIN daily d ON d.ad_id = ad.id
    WHERE {_ACTIVE}
    GROUP BY ad.id
),
measured AS (
    SELECT t.*, CASE WHEN SUM(t.conversions) OVER (PARTITION BY t.campaign_id)
                          >= %(min_conversions)s
                     THEN 'conversions_per_impression' ELSE 'ctr' END AS metric
    FROM totals t
),
sampled AS (
    SELECT m.*,
           CASE WHEN m.metric = 'ctr' THEN m.clicks ELSE m.conversions END AS successes,
           m.impressions AS trials,
           m.impressions >= %(min_impressions)s
             AND (m.metric = 'ctr' OR m.clicks >= %(min_clicks)s) AS qualifies,
           m.spend / NULLIF(m.conversions, 0) AS cpa,
           m.revenue / NULLIF(m.spend, 0) AS roas
    FROM measured m
),
bars AS (
    SELECT campaign_id, COUNT(*) AS qualifying,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY successes / trials) AS median_rate,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY cpa) AS median_cpa,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY roas) FILTER (WHERE revenue > 0)
             AS median_roas
    FROM sampled WHERE qualifies GROUP BY campaign_id
),
posterior AS (  -- z of the median under the Beta's mean and standard deviation, clamped
    SELECT s.*, b.median_rate, b.median_cpa, b.median_roas, s.successes / s.trials AS rate,
           LEAST(GREATEST(((1 + s.successes) / (2 + s.trials) - b.median_rate)
                 / sqrt((1 + s.successes) * (1 + s.trials - s.successes)
                        / ((2 + s.trials) ^ 2 * (3 + s.trials))), -8), 8) AS z
    FROM sampled s JOIN bars b USING (campaign_id)
    WHERE s.qualifies AND b.qualifying >= 2
),
scored AS (
    SELECT p.*, 1 / (1 + exp(-(1.5976 * z + 0.07056 * z ^ 3))) AS probability,
           p.rate / NULLIF(p.median_rate, 0) - 1 AS lift
    FROM posterior p
),
judged AS (
    SELECT * FROM scored
    WHERE probability >= %(probability)s
      AND (metric = 'ctr' OR (
            (median_cpa IS NULL OR cpa <= median_cpa)
            AND (median_roas IS NULL OR roas >= median_roas)))
),
marked AS (
    UPDATE jobs_ad ad
    SET is_winner = TRUE,
        winner_since = CASE WHEN ad.is_winner THEN COALESCE(ad.winner_since, %(now)s)
                            ELSE %(now)s END,
        winner_metric = j.metric, winner_probability = j.probability, winner_lift = j.lift
    FROM judged j WHERE j.ad_id = ad.id
),
unmarked AS (
    UPDATE jobs_ad ad
    SET is_winner = FALSE, winner_since = NULL, winner_metric = '',
        winner_probability = NULL, winner_lift = NULL
    WHERE ad.is_winner AND ad.id NOT IN (SELECT ad_id FROM judged)
    RETURNING ad.id
),
dropped AS (
    DELETE FROM jobs_winnerentry e WHERE e.ad_id NOT IN (SELECT ad_id FROM judged)
)
SELECT (SELECT COUNT(*) FROM totals), (SELECT COUNT(*) FROM unmarked),
       w.ad_id, w.was_winner, w.metric, w.probability, w.lift, w.rate, w.median_rate,
       w.impressions, w.clicks, w.conversions, w.spend, w.revenue,
       w.cpa, w.median_cpa, w.roas, w.median_roas
FROM (SELECT 1) one LEFT JOIN (
    SELECT j.*, ad.is_winner AS was_winner FROM judged j JOIN jobs_ad ad ON ad.id = j.ad_id
) w ON TRUE
"""
_RESULT_FIELDS = (
    "metric", "probability", "lift", "rate", "median_rate", "impressions", "clicks",
    "conversions", "spend", "revenue", "cpa", "median_cpa", "roas", "median_roas",
)  # fmt: skip

# What a winner's index text is made of: its video's words (the narration's notes, else the
# transcript of the media job it runs), persona, format and duration.
_FACTS_SQL = """
SELECT ad.id, ad.name, COALESCE(p.name, ''), ad.preset,
       COALESCE(ad.video_duration_seconds, j.duration_seconds), c.owner_id, c.currency,
       (SELECT string_agg(s.notes, ' ' ORDER BY s.index) FROM jobs_slide s
        WHERE s.job_id = j.id AND s.notes <> '') AS notes,
       (SELECT a.file FROM jobs_mediaartifact a
        WHERE a.media_job_id = mj.id AND a.kind = 'transcript_text' AND mj.files_deleted_at IS NULL
        ORDER BY a.id DESC LIMIT 1) AS transcript,
       e.text_hash, e.embedding_model
FROM jobs_ad ad
JOIN jobs_campaign c ON c.id = ad.campaign_id
LEFT JOIN jobs_mediajob mj ON mj.id = ad.media_job_id
LEFT JOIN jobs_job j ON j.id = COALESCE(ad.narration_job_id, mj.source_job_id)
LEFT JOIN jobs_persona p ON p.id = COALESCE(ad.persona_id, j.persona_id)
LEFT JOIN jobs_winnerentry e ON e.ad_id = ad.id
WHERE ad.id = ANY(%(ids)s)
"""


@dataclass(frozen=True)
class WinnerMatch:
    ad_id: UUID
    ad_name: str
    campaign_id: UUID
    campaign_name: str
    similarity: float
    metric: str
    probability: float | None
    lift: float | None
    persona: str
    preset: str
    duration_seconds: float | None
    results: dict
    snippet: str


def winners_pass(*, now: datetime | None = None) -> dict:
    """Mark this window's winners, un-mark the rest, index the winners; returns the summary."""
    now = now or timezone.now()
    run = AnalysisRun.objects.create(kind=AnalysisRun.Kind.WINNERS, started_at=now)
    clock = time.monotonic()
    try:
        considered, lost, winners = _judge(now)
        index_clock = time.monotonic()
        indexed = _index(winners, now) if winners else 0
    except Exception as exc:
        _finish(run, now, clock, error=f"{type(exc).__name__}: {exc}")
        raise
    summary = {
        "considered": considered, "winners": len(winners), "lost": lost,
        "new": sum(1 for winner in winners if not winner["was_winner"]),
        "indexed": indexed, "index_ms": round((time.monotonic() - index_clock) * 1000),
    }  # fmt: skip
    summary["duration_ms"] = _finish(run, now, clock, summary=summary)
    return summary


def _finish(run: AnalysisRun, now: datetime, clock: float, *, summary=None, error="") -> int:
    duration_ms = round((time.monotonic() - clock) * 1000)
    AnalysisRun.objects.filter(id=run.id).update(
        finished_at=now + timedelta(milliseconds=duration_ms), duration_ms=duration_ms,
        summary={**(summary or {}), "duration_ms": duration_ms}, error=error,
    )  # fmt: skip
    return duration_ms


def _judge(now: datetime) -> tuple[int, int, list[dict]]:
    """(ads considered, winners lost, this run's winners with their numbers)."""
    ads = settings.ADS
    params = {
        "since": now.date() - timedelta(days=ads["WINNER_WINDOW_DAYS"]), "now": now,
        "min_conversions": ads["WINNER_MIN_CONVERSIONS"], "min_clicks": MIN_CLICKS,
        "min_impressions": ads["WINNER_MIN_IMPRESSIONS"], "probability": ads["WINNER_PROBABILITY"],
    }  # fmt: skip
    with transaction.atomic(), connection.cursor() as cursor:
        tune_for_all_ads(cursor)
        cursor.execute(_JUDGE_SQL, params)
        rows = cursor.fetchall()
    winners = [
        {"ad_id": row[2], "was_winner": row[3], **dict(zip(_RESULT_FIELDS, row[4:], strict=True))}
        for row in rows
        if row[2] is not None
    ]
    return rows[0][0], rows[0][1], winners


def _index(winners: list[dict], now: datetime) -> int:
    """Embed the winners whose text changed (one batch), refresh every winner's results."""
    model = embedding_model_name()
    with connection.cursor() as cursor:
        cursor.execute(_FACTS_SQL, {"ids": [winner["ad_id"] for winner in winners]})
        facts = {row[0]: row for row in cursor.fetchall()}
    changed, refreshed = [], []
    for winner in winners:
        (ad_id, name, persona, preset, duration, owner_id, currency, notes, transcript,
         old_hash, old_model) = facts[winner["ad_id"]]  # fmt: skip
        results = _results(winner, currency)
        words = notes or (transcript and _transcript(transcript)) or name
        text = _index_text(words, persona, preset, duration, results)
        # Words and facts make the embedding; the results line changes each run and is kept
        # fresh without embedding again (numbers barely move a static model's average).
        text_hash = hashlib.sha256(text.rpartition("\nResults: ")[0].encode()).hexdigest()
        row = (ad_id, owner_id, json.dumps(results), text, text_hash)
        (changed if (old_hash, old_model) != (text_hash, model) else refreshed).append(row)
    with connection.cursor() as cursor:
        if changed:
            # Texts of a length batch together: the embedder pads a batch to its longest.
            changed.sort(key=lambda row: len(row[3]))
            ids, owners, results, texts, hashes = map(list, zip(*changed, strict=True))
            vectors = [_vector_literal(vector) for vector in text_embedder().embed(texts)]
            cursor.execute(_UPSERT_SQL, {
                "ids": ids, "owners": owners, "results": results, "texts": texts,
                "hashes": hashes, "vectors": vectors, "model": model, "now": now,
            })  # fmt: skip
        if refreshed:
            ids, owners, results, texts, _ = map(list, zip(*refreshed, strict=True))
            cursor.execute(_REFRESH_SQL, {"ids": ids, "owners": owners, "results": results,
                                          "texts": texts})  # fmt: skip
    return len(changed)


_UPSERT_SQL = """
INSERT INTO jobs_winnerentry
    (ad_id, owner_id, results, text, text_hash, embedding, embedding_model, indexed_at)
SELECT v.ad_id, v.owner_id, v.results::jsonb, v.text, v.text_hash, v.embedding::vector,
       %(model)s, %(now)s
FROM unnest(%(ids)s::uuid[], %(owners)s::bigint[], %(results)s::text[], %(texts)s::text[],
            %(hashes)s::text[], %(vectors)s::text[])
     AS v(ad_id, owner_id, results, text, text_hash, embedding)
ON CONFLICT (ad_id) DO UPDATE SET
    owner_id = EXCLUDED.owner_id, results = EXCLUDED.results, text = EXCLUDED.text,
    text_hash = EXCLUDED.text_hash, embedding = EXCLUDED.embedding,
    embedding_model = EXCLUDED.embedding_model, indexed_at = EXCLUDED.indexed_at
"""
# Only rows whose numbers changed: each new row version is also an insert into the HNSW index.
_REFRESH_SQL = """
UPDATE jobs_winnerentry e SET owner_id = v.owner_id, results = v.results::jsonb, text = v.text
FROM unnest(%(ids)s::uuid[], %(owners)s::bigint[], %(results)s::text[], %(texts)s::text[])
     AS v(ad_id, owner_id, results, text)
WHERE e.ad_id = v.ad_id
  AND (e.owner_id, e.results, e.text) IS DISTINCT FROM (v.owner_id, v.results::jsonb, v.text)
"""


def _vector_literal(vector) -> str:
    return "[" + ",".join(map(str, vector.astype("float64").round(6).tolist())) + "]"


def _transcript(name: str) -> str:
    try:
        with default_storage.open(name, "rb") as handle:
            return handle.read(_MAX_WORDS * 4).decode("utf-8", errors="replace")
    except OSError as exc:
        logger.warning("winner index: transcript %s unreadable (%s); using the ad name", name, exc)
        return ""


def _results(winner: dict, currency: str) -> dict:
    numbers = {key: winner[key] for key in _RESULT_FIELDS}
    numbers["ctr"] = winner["clicks"] / winner["impressions"] if winner["impressions"] else None
    return {**numbers, "currency": currency, "window_days": settings.ADS["WINNER_WINDOW_DAYS"]}


def results_line(results: dict) -> str:
    """The results in words: "CTR 3.1 % vs campaign 2.0 %; CPA 12.40 USD; ROAS 3.2"."""
    currency = results.get("currency", "")
    label = "CTR" if results["metric"] == "ctr" else "Conversions per impression"
    parts = [f"{label} {_percent(results['rate'])} vs campaign {_percent(results['median_rate'])}"]
    if results["metric"] != "ctr" and results.get("ctr") is not None:
        parts.append(f"CTR {_percent(results['ctr'])}")
    if results.get("cpa") is not None:
        versus = results.get("median_cpa")
        tail = f" vs campaign {versus:.2f} {currency}" if versus is not None else ""
        parts.append(f"CPA {results['cpa']:.2f} {currency}{tail}")
    if results.get("revenue") and results.get("roas") is not None:
        parts.append(f"ROAS {results['roas']:.1f}")
    return "; ".join(parts)


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def _index_text(words: str, persona: str, preset: str, duration, results: dict) -> str:
    about = [f"Persona: {persona}." if persona else "", f"Format: {preset}." if preset else "",
             f"Duration: {round(duration)} s." if duration else ""]  # fmt: skip
    facts = " ".join(part for part in about if part)
    # The snippet of a search hit is what comes before the blank line: the words.
    lines = [" ".join(words[:_MAX_WORDS].split()), "", *([facts] if facts else [])]
    return "\n".join([*lines, f"Results: {results_line(results)}."])


def winners_search(
    *, owner, text: str = "", job: Job | None = None, limit: int = 10
) -> list[WinnerMatch]:
    """The winning ads most like `text` (or like the deck `job`), most similar first.

    Only `owner`'s winners are searched; owner None searches everyone's (staff, admin).
    """
    query = (text or "").strip() or (_deck_words(job) if job is not None else "")
    if not query:
        raise ValidationError("Give words to search for, or a deck whose ads to compare.")
    limit = max(1, min(limit, MAX_RESULTS))
    vector = text_embedder().embed([query])[0]
    if not vector.any():
        return []  # none of the words is known to the model: no direction to compare
    params = {"vector": _vector_literal(vector), "owner": getattr(owner, "pk", owner),
              "model": embedding_model_name(), "k": limit}  # fmt: skip
    rows = _search_rows(params, owned=owner is not None, exact=False)
    if len(rows) < limit:
        # HNSW filters by owner after its scan and may leave some out: then the owner's own
        # winners are ranked exactly (an index scan on owner, then a sort).
        rows = _search_rows(params, owned=owner is not None, exact=True)
    # The columns come in WinnerMatch's order; Django's cursor reads jsonb as text.
    return [WinnerMatch(*row[:11], json.loads(row[11]), _snippet(row[12])) for row in rows]


_SEARCH_SQL = """
SELECT ad.id, ad.name, c.id, c.name, 1 - e.distance, ad.winner_metric, ad.winner_probability,
       ad.winner_lift, COALESCE(p.name, ''), ad.preset,
       COALESCE(ad.video_duration_seconds, j.duration_seconds), e.results, e.text
FROM (
    SELECT ad_id, results, text, embedding <=> %(vector)s::vector AS distance
    FROM jobs_winnerentry
    WHERE {owner} AND embedding_model = %(model)s
    ORDER BY {order}
    LIMIT %(k)s
) e
JOIN jobs_ad ad ON ad.id = e.ad_id
JOIN jobs_campaign c ON c.id = ad.campaign_id
LEFT JOIN jobs_mediajob mj ON mj.id = ad.media_job_id
LEFT JOIN jobs_job j ON j.id = COALESCE(ad.narration_job_id, mj.source_job_id)
LEFT JOIN jobs_persona p ON p.id = COALESCE(ad.persona_id, j.persona_id)
ORDER BY e.distance, ad.id
"""


def _search_rows(params: dict, *, owned: bool, exact: bool) -> list[tuple]:
    distance = "embedding <=> %(vector)s::vector"
    sql = _SEARCH_SQL.format(
        owner="owner_id = %(owner)s" if owned else "TRUE",
        # "+ 0" orders by the same distance in a way the HNSW index cannot serve: exact.
        order=f"({distance}) + 0" if exact else distance,
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL hnsw.ef_search = {_EF_SEARCH}")
        cursor.execute(sql, params)
        return cursor.fetchall()


def _deck_words(job: Job) -> str:
    notes = Slide.objects.filter(job=job).exclude(notes="").order_by("index")
    return " ".join(notes.values_list("notes", flat=True)).strip() or job.title


def _snippet(text: str) -> str:
    words = text.partition("\n\n")[0]
    return words if len(words) <= _SNIPPET else words[:_SNIPPET].rsplit(" ", 1)[0] + " …"
