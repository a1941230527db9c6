"""Persona knowledge: ingesting 10 MB of text through the queue, and searching 100k passages.

    .venv/bin/python -m benchmarks.knowledge [--megabytes 10] [--segments 100000] [--queries 200]

Ingestion: a generated profile, works documents and a quotes file, 10 MB in all, ingested
by `manage.py procrastinate worker --queues=cpu` processes (one per core, as the README sets
workers up), timed from "start ingestion" to the persona being active. The baseline in the
same run is the same ingestion in this one process, one document after another.

Search: a persona with --segments passages (embedded by the real model, stored with COPY),
then --queries searches through the API's selector (embedding the query, HNSW + full text,
fused). The baseline in the same run is the same queries with the vector index turned off
(an exact scan). Prints p50/p95/max of each.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time

from benchmarks.django_setup import REPO, django_ready

WORDS = [
    "garden",
    "orchard",
    "river",
    "mountain",
    "comet",
    "planet",
    "letter",
    "story",
    "market",
    "harvest",
    "engine",
    "voice",
    "bridge",
    "winter",
    "summer",
    "lantern",
    "harbour",
    "teacher",
    "student",
    "signal",
    "forest",
    "meadow",
    "chapter",
    "kitchen",
    "bakery",
    "theatre",
    "museum",
    "violin",
    "painter",
    "sculptor",
    "physics",
    "chemistry",
    "biology",
    "algebra",
    "history",
    "journey",
    "promise",
    "courage",
    "patience",
    "silence",
    "thunder",
    "ocean",
    "island",
    "city",
    "village",
    "station",
    "railway",
    "library",
    "archive",
    "quarrel",
    "festival",
    "recipe",
    "tomato",
    "honeybee",
    "glacier",
    "desert",
    "canyon",
    "volcano",
    "galaxy",
    "telescope",
    "compass",
    "anchor",
    "sail",
    "workshop",
    "furnace",
]
VERBS = [
    "builds",
    "remembers",
    "carries",
    "watches",
    "writes",
    "follows",
    "explains",
    "paints",
    "measures",
    "finds",
]


def _vocabulary(size: int = 4000) -> tuple[list[str], list[float]]:
    """Real words first, then made-up ones, with Zipf's law for how often each is used."""
    rng = random.Random(3)
    syllables = ["ka", "lo", "mi", "ter", "an", "ros", "vel", "din", "sha", "pur", "om", "gle"]
    words = list(WORDS)
    while len(words) < size:
        word = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
        if word not in words:
            words.append(word)
    return words, [1 / (rank + 1) ** 1.07 for rank in range(len(words))]


VOCABULARY, FREQUENCIES = _vocabulary()


def words_like_text(rng: random.Random, count: int) -> list[str]:
    return rng.choices(VOCABULARY, weights=FREQUENCIES, k=count)


def prose(rng: random.Random, characters: int) -> str:
    """Sentences of 8-25 words in paragraphs of 3-8 sentences, about `characters` long."""
    out, size = [], 0
    while size < characters:
        paragraph = []
        for _ in range(rng.randint(3, 8)):
            words = words_like_text(rng, rng.randint(6, 22))
            words.insert(rng.randint(1, len(words) - 1), rng.choice(VERBS))
            paragraph.append(" ".join(words).capitalize() + rng.choice(".!?."))
        text = " ".join(paragraph)
        out.append(text)
        size += len(text) + 2
    return "\n\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--megabytes", type=float, default=10)
    parser.add_argument("--works", type=int, default=20)
    parser.add_argument(
        "--setups",
        nargs="+",
        default=["1x2", f"{os.cpu_count() or 2}x1"],
        help="worker set-ups, PROCESSESxCONCURRENCY (1x2: the README's one worker)",
    )
    parser.add_argument("--segments", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--skip-search", action="store_true")
    parser.add_argument(
        "--keep", action="store_true", help="keep the search persona, and reuse a kept one"
    )
    args = parser.parse_args()
    django_ready()
    print(f"cpu cores: {os.cpu_count()}")
    if not args.skip_ingest:
        ingest_benchmark(args)
    if not args.skip_search:
        search_benchmark(args)


def _persona(name: str):
    from django.contrib.auth import get_user_model

    from jobs.personas import services
    from jobs.personas.models import Persona

    Persona.objects.filter(name=name).delete()
    owner, _ = get_user_model().objects.get_or_create(username="benchmark")
    return services.persona_create(name=name, owner=owner)


def _upload_corpus(persona, megabytes: float, works: int) -> int:
    from django.core.files.base import ContentFile

    from jobs.personas import knowledge

    rng = random.Random(7)
    total = int(megabytes * 1_000_000)
    profile = prose(rng, 20_000)
    quotes = "\n".join(
        " ".join(words_like_text(rng, rng.randint(6, 20))).capitalize() + "." for _ in range(2000)
    )
    per_work = (total - len(profile) - len(quotes)) // works
    files = [ContentFile(prose(rng, per_work).encode(), name=f"work-{n:02}.txt")
             for n in range(works)]  # fmt: skip
    knowledge.knowledge_documents_upload(
        persona=persona, kind="profile", files=[ContentFile(profile.encode(), name="p.md")],
        uploaded_by=None,
    )  # fmt: skip
    knowledge.knowledge_documents_upload(
        persona=persona, kind="works", files=files, uploaded_by=None
    )
    knowledge.knowledge_documents_upload(
        persona=persona, kind="quotes", files=[ContentFile(quotes.encode(), name="q.txt")],
        uploaded_by=None,
    )  # fmt: skip
    return len(profile) + len(quotes) + sum(f.size for f in files)


def ingest_benchmark(args) -> None:
    from jobs.personas import ingestion, knowledge
    from jobs.personas.embedding import text_embedder
    from jobs.personas.models import Persona

    text_embedder()  # the baseline process loads the model once, as a worker does
    baseline = _persona("benchmark ingest (one process)")
    size = _upload_corpus(baseline, args.megabytes, args.works)
    started = time.perf_counter()
    baseline = knowledge.knowledge_ingest_start(persona=baseline)
    for document in baseline.knowledge_documents.select_related("part", "persona"):
        ingestion.document_ingest(document=document, run=baseline.ingestion_run)
    ingestion.ingestion_fan_in(persona_id=baseline.id, run=baseline.ingestion_run)
    serial = time.perf_counter() - started
    baseline.refresh_from_db()
    assert baseline.status == "active", baseline.ingestion_error
    _drain_queue()

    print(f"\nIngest {size / 1e6:.1f} MB ({args.works} works + profile + 2000 quotes)")
    print(f"  one process, documents one by one (baseline): {serial:7.1f} s "
          f"({size / 1e6 / serial:.2f} MB/s)")  # fmt: skip
    cleanup = [baseline.id]
    for setup in args.setups:
        processes, concurrency = (int(n) for n in setup.split("x"))
        queued = _persona(f"benchmark ingest (queue {setup})")
        _upload_corpus(queued, args.megabytes, args.works)
        seconds = _ingest_through_queue(queued, processes, concurrency)
        segments = sum(queued.knowledge_documents.values_list("segment_count", flat=True))
        print(f"  queue, {processes} worker process(es) x {concurrency} slot(s):   "
              f"{seconds:7.1f} s ({size / 1e6 / seconds:.2f} MB/s, {serial / seconds:.2f}x "
              f"the baseline; {segments} segments)")  # fmt: skip
        cleanup.append(queued.id)
    print("  target: <= 60 s")
    Persona.objects.filter(id__in=cleanup).delete()


def _ingest_through_queue(persona, processes: int, concurrency: int) -> float:
    from jobs.personas import knowledge
    from jobs.personas.models import Persona

    workers = _start_workers(processes, concurrency)
    try:
        time.sleep(4)  # workers up and listening, as in a running service
        started = time.perf_counter()
        knowledge.knowledge_ingest_start(persona=persona)
        while Persona.objects.get(id=persona.id).status == "ingesting":
            time.sleep(0.05)
        seconds = time.perf_counter() - started
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=60)
    persona.refresh_from_db()
    assert persona.status == "active", persona.ingestion_error
    return seconds


def _drain_queue() -> None:
    from procrastinate.contrib.django.models import ProcrastinateJob

    # The baseline ran the steps itself; the tasks its start queued are not wanted.
    waiting = ProcrastinateJob.objects.filter(status="todo")
    waiting.filter(task_name__startswith="slidecast.ingest").delete()


def _start_workers(count: int, concurrency: int) -> list[subprocess.Popen]:
    env = {**os.environ, "SLIDECAST_WORKER_CONCURRENCY": str(concurrency),
           "SLIDECAST_LOG_LEVEL": "WARNING"}  # fmt: skip
    return [
        subprocess.Popen(
            [sys.executable, "manage.py", "procrastinate", "worker", "--queues=cpu"],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        for _ in range(count)
    ]


def search_benchmark(args) -> None:
    from jobs.personas.models import Persona

    name = f"benchmark search {args.segments}"
    kept = Persona.objects.filter(name=name).first() if args.keep else None
    if kept is not None:
        persona = kept
        print(f"\nSearch over {args.segments} segments (kept from an earlier run)")
    else:
        persona = _persona(name)
        started = time.perf_counter()
        _fill_segments(persona, args.segments)
        print(f"\nSearch over {args.segments} segments (stored and indexed in "
              f"{time.perf_counter() - started:.0f} s)")  # fmt: skip
    rng = random.Random(11)
    # Queries use words as often as the text does; the worst case takes only the 10 most
    # common words, which match a large share of all passages.
    queries = [" ".join(words_like_text(rng, rng.randint(2, 4))) for _ in range(args.queries)]
    common = [" ".join(rng.sample(VOCABULARY[:10], rng.randint(1, 3)))
              for _ in range(max(20, args.queries // 5))]  # fmt: skip
    _report_database()
    hnsw = _latencies(persona, queries, exact=False)
    worst = _latencies(persona, common, exact=False)
    exact = _latencies(persona, queries[: max(20, args.queries // 5)], exact=True)
    for label, values in (("exact scan (baseline)", exact), ("HNSW + full text", hnsw),
                          ("  most common words only", worst)):  # fmt: skip
        ordered = sorted(values)
        p95 = ordered[int(0.95 * (len(ordered) - 1))]
        print(f"  {label:<24} p50 {statistics.median(ordered):6.1f} ms   p95 {p95:6.1f} ms   "
              f"max {ordered[-1]:6.1f} ms   ({len(ordered)} queries)")  # fmt: skip
    print("  target: p95 <= 50 ms")
    if not args.keep:
        Persona.objects.filter(id=persona.id).delete()


def _report_database() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        version = cursor.fetchone()[0].split(" on ")[0]
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        vector = cursor.fetchone()[0]
        cursor.execute("SHOW shared_buffers")
        buffers = cursor.fetchone()[0]
    print(f"  {version}, pgvector {vector}, shared_buffers {buffers}")


def _fill_segments(persona, count: int) -> None:
    """Documents of 1,000 passages each, embedded by the real model, stored as ingestion does."""
    from django.db import connection

    from jobs.personas.embedding import text_embedder
    from jobs.personas.ingestion import segments_insert
    from jobs.personas.models import KnowledgeDocument, KnowledgePart
    from jobs.personas.text_search import text_search_config

    rng = random.Random(5)
    part = KnowledgePart.objects.create(persona=persona, kind="works")
    embedder = text_embedder()
    for first in range(0, count, 1000):
        document = KnowledgeDocument.objects.create(
            persona=persona, part=part, name=f"bench-{first}.txt", content_hash="x",
            status="done",
        )  # fmt: skip
        texts = [prose(rng, 600)[:700] for _ in range(min(1000, count - first))]
        pieces = [(text, "", len(text) // 4) for text in texts]
        segments_insert(document, pieces, embedder.embed(texts), text_search_config("en"))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE jobs_knowledgesegment")


def _latencies(persona, queries: list[str], *, exact: bool) -> list[float]:
    from django.db import connection, transaction

    from jobs.personas.search import knowledge_search

    knowledge_search(persona=persona, q="warm up", k=10)
    values = []
    for query in queries:
        with transaction.atomic():
            if exact:
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL enable_indexscan = off")
            started = time.perf_counter()
            hits = knowledge_search(persona=persona, q=query, k=10)
            values.append((time.perf_counter() - started) * 1000)
        assert hits, query
    return values


if __name__ == "__main__":
    main()
