"""Searching a persona's knowledge: meaning (pgvector HNSW) and words (full text), fused.

The two rankings are merged by reciprocal rank fusion (score = Σ 1 / (60 + rank)), which
needs no tuning between cosine similarities and ts_rank values that are not comparable. A
passage found both ways ranks above one found only one way.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction

from jobs.personas.embedding import text_embedder
from jobs.personas.models import KnowledgeDocument, KnowledgeSegment, Persona
from jobs.personas.text_search import text_search_config

RRF_K = 60
MAX_RESULTS = 50
# Candidates each ranking brings to the fusion; HNSW looks at ef_search neighbours.
_CANDIDATES = 50
_EF_SEARCH = 100
# Ranking by words reads every matching passage; words found in thousands of passages say
# little about which is best, so at most this many are ranked (meaning ranks them all).
_LEXICAL_POOL = 500
# PostgreSQL's soft limit on what one GIN scan returns (a random subset beyond it): building
# the bitmap of a word found in most of 100,000 passages would otherwise cost more than
# the rest of the search together.
_WORD_MATCHES = 5000


@dataclass(frozen=True)
class SearchHit:
    segment_id: int
    document_id: int
    document: str
    part: str
    position: int
    text: str
    source: str
    score: float
    similarity: float | None
    text_rank: float | None


_DISTANCE = "embedding <=> %(vector)s::vector"
_SQL = """
WITH semantic AS (
    SELECT id, row_number() OVER () AS rank, similarity FROM (
        SELECT id, 1 - (embedding <=> %(vector)s::vector) AS similarity
        FROM {segments}
        WHERE %(semantic)s AND persona_id = %(persona)s AND (%(part)s = '' OR part = %(part)s)
        ORDER BY {distance}
        LIMIT %(candidates)s
    ) nearest
),
words AS (SELECT websearch_to_tsquery(%(config)s::regconfig, %(q)s) AS query),
lexical AS (
    SELECT id, row_number() OVER (ORDER BY text_rank DESC) AS rank, text_rank FROM (
        SELECT pool.id, ts_rank_cd(pool.search, words.query) AS text_rank
        FROM (
            SELECT id, search FROM {segments}, words
            WHERE persona_id = %(persona)s AND (%(part)s = '' OR part = %(part)s)
              AND search @@ words.query
            LIMIT %(lexical_pool)s
        ) pool, words
        ORDER BY text_rank DESC
        LIMIT %(candidates)s
    ) matching
)
SELECT s.id, s.document_id, d.name, s.part, s.position, s.text, s.source,
       COALESCE(1.0 / (%(rrf)s + semantic.rank), 0)
         + COALESCE(1.0 / (%(rrf)s + lexical.rank), 0) AS score,
       semantic.similarity, lexical.text_rank, (SELECT count(*) FROM semantic) AS neighbours
FROM semantic FULL OUTER JOIN lexical USING (id)
JOIN {segments} s ON s.id = COALESCE(semantic.id, lexical.id)
JOIN {documents} d ON d.id = s.document_id
ORDER BY score DESC, s.id
LIMIT %(k)s
"""


def _ranked(params: dict, *, exact: bool) -> list[tuple]:
    sql = _SQL.format(
        segments=KnowledgeSegment._meta.db_table,
        documents=KnowledgeDocument._meta.db_table,
        # "+ 0" orders by the same distance in a way the HNSW index cannot serve: an exact scan.
        distance=f"({_DISTANCE}) + 0" if exact else _DISTANCE,
    )
    with transaction.atomic(), connection.cursor() as cursor:
        # Only for this transaction: more neighbours, so the persona filter still leaves k;
        # and a GIN scan that stops near _WORD_MATCHES passages of a very common word.
        cursor.execute(f"SET LOCAL hnsw.ef_search = {_EF_SEARCH}")
        cursor.execute(f"SET LOCAL gin_fuzzy_search_limit = {_WORD_MATCHES}")
        cursor.execute(sql, params)
        return cursor.fetchall()


def _too_few_neighbours(rows: list[tuple], persona: Persona, part: str, k: int) -> bool:
    """Whether the index's neighbours, once filtered to this persona, were fewer than asked.

    HNSW finds the nearest passages of every persona and the filter comes after; a persona
    with a small share of a large table can be left with too few (pgvector before 0.8 has no
    iterative scan). Then the persona's own passages are scanned exactly: few, so cheap.
    """
    found = rows[0][10] if rows else 0
    if found >= k:
        return False
    segments = KnowledgeSegment.objects.filter(persona=persona)
    if part:
        segments = segments.filter(part=part)
    return segments[: found + 1].count() > found


def knowledge_search(*, persona: Persona, q: str, k: int = 10, part: str = "") -> list[SearchHit]:
    """The k passages of the persona's knowledge (of one part, if given) that best answer q."""
    k = max(1, min(k, MAX_RESULTS))
    vector = text_embedder().embed([q])[0]
    params = {
        "vector": "[" + ",".join(f"{value:.6f}" for value in vector) + "]",
        # Words the model does not know give no direction to compare with: words only.
        "semantic": bool(vector.any()),
        "persona": persona.id,
        "part": part or "",
        "config": text_search_config(persona.language),
        "q": q,
        "candidates": max(_CANDIDATES, k),
        "lexical_pool": _LEXICAL_POOL,
        "rrf": RRF_K,
        "k": k,
    }
    rows = _ranked(params, exact=False)
    if params["semantic"] and _too_few_neighbours(rows, persona, part, k):
        rows = _ranked(params, exact=True)
    return [
        SearchHit(
            segment_id=row[0],
            document_id=row[1],
            document=row[2],
            part=row[3],
            position=row[4],
            text=row[5],
            source=row[6],
            score=float(row[7]),
            similarity=None if row[8] is None else float(row[8]),
            text_rank=None if row[9] is None else float(row[9]),
        )  # fmt: skip
        for row in rows
    ]
