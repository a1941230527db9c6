"""Persona knowledge: upload in parts, ingestion on real workers, lifecycle, search."""

from __future__ import annotations

import io
import json
import time

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from docx import Document as WordDocument
from procrastinate.contrib.django.models import ProcrastinateJob

from jobs import queueing
from jobs.errors import RequestRefused
from jobs.models import KnowledgeDocument, KnowledgeSegment, Persona
from jobs.personas import ingestion, knowledge, services
from jobs.personas.search import knowledge_search
from jobs.worker.inprocess import in_process_worker
from tests.conftest import clear_queue

PROFILE = (
    "# Ada Quill\n\nAda Quill is a botanist who writes about *greenhouses* and "
    "hydroponic tomatoes. She speaks slowly, with dry humour, and likes short sentences.\n"
)
BEES = " ".join(
    f"Honeybees pollinate the orchard in spring, and the hive number {n} winters well."
    for n in range(60)
)
COMETS = "<html><head><script>alert('x')</script><title>Comets</title></head><body>" + "".join(
    f"<p>The comet's tail points away from the sun, observation {n}.</p>" for n in range(60)
) + "</body></html>"  # fmt: skip


def _file(name: str, content: bytes | str) -> ContentFile:
    return ContentFile(content.encode() if isinstance(content, str) else content, name=name)


def _docx(text: str) -> bytes:
    document = WordDocument()
    for paragraph in text.split("\n"):
        document.add_paragraph(paragraph)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _upload(persona, kind, *files, user=None):
    return knowledge.knowledge_documents_upload(
        persona=persona, kind=kind, files=[_file(name, content) for name, content in files],
        uploaded_by=user,
    )  # fmt: skip


def _ingest_and_wait(persona, *, force=False, timeout=90) -> Persona:
    knowledge.knowledge_ingest_start(persona=persona, force=force)
    with in_process_worker(queues=["cpu"], concurrency=2):
        deadline = time.monotonic() + timeout
        while True:
            persona.refresh_from_db()
            if persona.status != Persona.Status.INGESTING:
                return persona
            assert time.monotonic() < deadline, "ingestion did not end in time"
            time.sleep(0.2)


@pytest.fixture
def ada(db, user) -> Persona:
    return services.persona_create(name="Ada Quill", owner=user)


def _documents(persona) -> dict[str, KnowledgeDocument]:
    return {doc.name: doc for doc in persona.knowledge_documents.all()}


def test_a_draft_persona_ingests_profile_first_then_works_and_quotes_and_is_active(
    transactional_db, user
):
    clear_queue()
    ada = services.persona_create(name="Ada Quill", owner=user)
    assert ada.status == Persona.Status.DRAFT
    _upload(ada, "profile", ("ada.md", PROFILE))
    _upload(ada, "works", ("bees.txt", BEES), ("comets.html", COMETS),
            ("soil.docx", _docx("Loam holds water.\nClay drains slowly after rain.")))  # fmt: skip
    quotes = [{"text": "A tomato is a promise kept.", "source": "Talk, 2019"},
              {"quote": "Water first, worry later."}]  # fmt: skip
    _upload(ada, "quotes", ("quotes.json", json.dumps(quotes)))

    ada = _ingest_and_wait(ada)

    assert ada.status == Persona.Status.ACTIVE, ada.ingestion_error
    documents = _documents(ada)
    assert {doc.status for doc in documents.values()} == {"done"}
    for doc in documents.values():
        assert doc.segment_count > 0 and doc.vector_count == doc.segment_count
        assert doc.segment_count == doc.segments.count() and doc.progress == 100
        assert doc.ingested_hash == doc.content_hash
    assert documents["bees.txt"].segment_count >= 3  # long text: several overlapping passages
    assert documents["quotes.json"].segment_count == 2
    # The profile was done before any other part began.
    others = [doc for name, doc in documents.items() if name != "ada.md"]
    assert documents["ada.md"].finished_at <= min(doc.started_at for doc in others)
    parts = {part.kind: part for part in ada.knowledge_parts.all()}
    assert parts["works"].status == "done" and parts["works"].document_count == 3
    works = ("bees.txt", "comets.html", "soil.docx")
    assert parts["works"].segment_count == sum(documents[n].segment_count for n in works)
    # One task per work document, one for the quotes, one for the profile.
    tasks = ProcrastinateJob.objects.filter(task_name__startswith="slidecast.ingest_")
    names = (queueing.INGEST_PROFILE, queueing.INGEST_DOCUMENT, queueing.INGEST_QUOTES)
    counts = {name: tasks.filter(task_name=name).count() for name in names}
    assert counts == {queueing.INGEST_PROFILE: 1, queueing.INGEST_DOCUMENT: 3,
                      queueing.INGEST_QUOTES: 1}  # fmt: skip
    # The script of the HTML never becomes knowledge; the quotes keep their source.
    assert not KnowledgeSegment.objects.filter(text__contains="alert").exists()
    assert KnowledgeSegment.objects.get(text__contains="promise kept").source == "Talk, 2019"

    hits = knowledge_search(persona=ada, q="comet tail and the sun", k=3)
    assert hits and hits[0].document == "comets.html"
    assert hits[0].similarity is not None and hits[0].text_rank is not None
    quote_hits = knowledge_search(persona=ada, q="tomato promise", k=5, part="quotes")
    assert [hit.part for hit in quote_hits] == ["quotes"] * len(quote_hits)
    assert quote_hits[0].text == "A tomato is a promise kept."


def test_a_bad_document_fails_its_part_with_the_reason_once_and_a_retry_mends_it(
    transactional_db, user
):
    clear_queue()
    ada = services.persona_create(name="Ada Quill", owner=user)
    _upload(ada, "works", ("bees.txt", BEES), ("broken.txt", b"\x00\x01binary\x00" * 50))
    ada = _ingest_and_wait(ada)

    assert ada.status == Persona.Status.FAILED
    assert ada.ingestion_error == "works: broken.txt: is not text: it holds binary data."
    broken = _documents(ada)["broken.txt"]
    assert broken.status == "failed" and broken.segment_count == 0
    part = ada.knowledge_parts.get(kind="works")
    assert part.status == "failed" and part.error.startswith("broken.txt: ")
    # Bad input is not retried: each task ran once.
    attempts = ProcrastinateJob.objects.filter(task_name=queueing.INGEST_DOCUMENT)
    assert sorted(attempts.values_list("attempts", flat=True)) == [1, 1]
    with pytest.raises(ValidationError, match="failed its ingestion"):
        from jobs.narration import services as narration

        narration.job_create(owner=user, deck=_file("d.pptx", b"x"), title="d", persona=ada)

    bees_segments = set(_documents(ada)["bees.txt"].segments.values_list("id", flat=True))
    _upload(ada, "works", ("broken.txt", "Now it is plain words about orchards."))
    ada = _ingest_and_wait(Persona.objects.get(id=ada.id))
    assert ada.status == Persona.Status.ACTIVE and ada.ingestion_error == ""
    # Only the mended document was ingested again: the other kept its passages.
    assert set(_documents(ada)["bees.txt"].segments.values_list("id", flat=True)) == bees_segments


def test_reingesting_a_changed_document_replaces_only_its_own_segments(transactional_db, user):
    clear_queue()
    ada = services.persona_create(name="Ada Quill", owner=user)
    _upload(ada, "works", ("bees.txt", BEES), ("comets.html", COMETS))
    ada = _ingest_and_wait(ada)
    comets = set(_documents(ada)["comets.html"].segments.values_list("id", flat=True))

    same = _upload(ada, "works", ("bees.txt", BEES))
    assert same[0].changed is False
    changed = _upload(ada, "works", ("bees.txt", "Wasps build paper nests under the eaves."))
    assert changed[0].changed is True
    ada = _ingest_and_wait(ada)

    documents = _documents(ada)
    assert documents["bees.txt"].segment_count == 1
    assert documents["bees.txt"].segments.get().text.startswith("Wasps")
    assert set(documents["comets.html"].segments.values_list("id", flat=True)) == comets
    assert knowledge_search(persona=ada, q="paper nests of wasps", k=1)[0].document == "bees.txt"

    # Re-ingest everything: every document again, new segments throughout.
    ada = _ingest_and_wait(ada, force=True)
    assert set(_documents(ada)["comets.html"].segments.values_list("id", flat=True)) != comets


def test_a_persona_with_nothing_to_ingest_is_active_at_once(ada):
    ada = knowledge.knowledge_ingest_start(persona=ada)
    assert ada.status == Persona.Status.ACTIVE
    assert not ProcrastinateJob.objects.filter(task_name=queueing.INGEST_PROFILE).exists()


@pytest.mark.parametrize(
    ("kind", "files", "message"),
    [
        ("works", [("virus.exe", b"MZ...")], "virus.exe: works take .txt"),
        ("works", [("empty.txt", b"")], "empty.txt: the file is empty"),
        ("works", [("fake.pdf", b"hello, not a pdf")], "fake.pdf: this is not a PDF"),
        ("works", [("locked.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)],
         "password-protected"),
        ("profile", [("a.md", b"one"), ("b.md", b"two")], "A profile is one document"),
        ("quotes", [("quotes.pdf", b"%PDF-1.4")], "quotes take .txt, .md, .csv, .json"),
        ("biography", [("a.md", b"one")], "There is no part 'biography'"),
    ],
)  # fmt: skip
def test_uploads_are_checked_before_anything_is_stored(ada, kind, files, message):
    with pytest.raises(ValidationError, match=message):
        _upload(ada, kind, *files)
    assert not KnowledgeDocument.objects.exists()


def test_documents_over_the_size_or_count_limit_are_refused(ada, settings):
    settings.SLIDECAST = {**settings.SLIDECAST, "KNOWLEDGE_MAX_DOCUMENT_MB": 1,
                          "KNOWLEDGE_MAX_DOCUMENTS": 2}  # fmt: skip
    with pytest.raises(ValidationError, match="big.txt: the file is 2.0 MB; the limit is 1 MB"):
        _upload(ada, "works", ("big.txt", b"a " * 2**20))
    _upload(ada, "works", ("one.txt", b"one"), ("two.txt", b"two"))
    with pytest.raises(ValidationError, match="at most 2 documents"):
        _upload(ada, "works", ("three.txt", b"three"))
    _upload(ada, "works", ("two.txt", b"second version"))  # replacing one is fine


def test_archived_personas_take_no_uploads_or_ingestion_and_restore_as_draft(ada):
    _upload(ada, "works", ("bees.txt", BEES))
    knowledge.persona_archive(persona=ada)
    with pytest.raises(RequestRefused, match="archived"):
        _upload(ada, "works", ("more.txt", b"more"))
    with pytest.raises(RequestRefused, match="archived"):
        knowledge.knowledge_ingest_start(persona=ada)
    restored = knowledge.persona_restore(persona=ada)
    assert restored.status == Persona.Status.DRAFT  # its document was never ingested
    with pytest.raises(RequestRefused, match="only a failed ingestion is retried"):
        knowledge.knowledge_retry_failed(persona=restored)


def test_a_task_of_an_earlier_run_writes_nothing_and_the_fan_in_decides_once(ada):
    _upload(ada, "works", ("bees.txt", BEES))
    ada = knowledge.knowledge_ingest_start(persona=ada)
    old_run = ada.ingestion_run
    knowledge.persona_archive(persona=ada)
    document = ada.knowledge_documents.get()
    ingestion.ingest_work(document_id=document.id, run=old_run)  # a task queued before
    document.refresh_from_db()
    assert document.status == "pending" and not document.segments.exists()

    ada = knowledge.persona_restore(persona=ada)
    ada = knowledge.knowledge_ingest_start(persona=ada)
    ingestion.ingest_profile(persona_id=ada.id, run=ada.ingestion_run)  # fans out
    ingestion.ingest_work(document_id=document.id, run=ada.ingestion_run)
    ada.refresh_from_db()
    assert ada.status == Persona.Status.ACTIVE
    finished = ada.ingestion_finished_at
    ingestion.ingestion_fan_in(persona_id=ada.id, run=ada.ingestion_run)  # a duplicate
    ada.refresh_from_db()
    assert ada.ingestion_finished_at == finished


def test_a_missing_embedding_model_fails_the_document_naming_the_setting(ada, settings, tmp_path):
    from jobs.personas.embedding import text_embedder

    settings.SLIDECAST = {**settings.SLIDECAST, "EMBEDDING_MODEL_DIR": str(tmp_path)}
    text_embedder.cache_clear()
    try:
        _upload(ada, "works", ("bees.txt", BEES))
        ada = knowledge.knowledge_ingest_start(persona=ada)
        ingestion.ingest_profile(persona_id=ada.id, run=ada.ingestion_run)
        document = ada.knowledge_documents.get()
        ingestion.ingest_work(document_id=document.id, run=ada.ingestion_run)
    finally:
        text_embedder.cache_clear()
    document.refresh_from_db()
    assert document.status == "failed"
    assert "SLIDECAST_EMBEDDING_MODEL_DIR" in document.error
    ada.refresh_from_db()
    assert ada.status == Persona.Status.FAILED


def test_a_small_persona_in_a_big_table_still_gets_its_nearest_passages(ada, user, monkeypatch):
    """HNSW finds the nearest passages of all personas before the persona filter; when that
    leaves too few, the persona's own passages are scanned exactly."""
    from django.db import connection

    from jobs.models import KnowledgePart
    from jobs.personas.embedding import text_embedder

    query = "apples in the orchard"
    crowd = services.persona_create(name="Crowd", owner=user)
    part = KnowledgePart.objects.create(persona=crowd, kind="works")
    document = KnowledgeDocument.objects.create(persona=crowd, part=part, name="c.txt")
    nearest = text_embedder().embed([query])[0]
    KnowledgeSegment.objects.bulk_create(
        KnowledgeSegment(persona=crowd, document=document, part="works", position=n,
                         text=f"{query} {n}", embedding=nearest)
        for n in range(400)
    )  # fmt: skip
    _upload(ada, "works", ("tides.txt", "Tides follow the moon. The harbour wall is old."))
    ada = knowledge.knowledge_ingest_start(persona=ada)
    ingestion.ingest_profile(persona_id=ada.id, run=ada.ingestion_run)
    ingestion.ingest_work(document_id=ada.knowledge_documents.get().id, run=ada.ingestion_run)
    from jobs.personas import search

    scans = []
    ranked = search._ranked
    monkeypatch.setattr(search, "_ranked", lambda params, *, exact: scans.append(exact)
                        or ranked(params, exact=exact))  # fmt: skip
    with connection.cursor() as cursor:  # make the planner take the HNSW index, as at scale
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        hits = knowledge_search(persona=ada, q=query, k=5)
    assert scans == [False, True]  # the index left too few: then the exact scan
    assert hits and {hit.document for hit in hits} == {"tides.txt"}
    assert all(hit.similarity is not None for hit in hits)


def test_a_bad_quote_fails_the_quotes_naming_the_row_once(ada):
    long_quote = "word " * 300
    _upload(ada, "quotes", ("q.csv", f"quote\nShort and sweet.\n{long_quote}\n"))
    ada = knowledge.knowledge_ingest_start(persona=ada)
    ingestion.ingest_profile(persona_id=ada.id, run=ada.ingestion_run)
    ingestion.ingest_quotes(persona_id=ada.id, run=ada.ingestion_run)
    ada.refresh_from_db()
    document = ada.knowledge_documents.get()
    assert document.status == "failed"
    assert document.error.startswith("q.csv, row 3: the quote is 1499 characters")
    assert ada.status == Persona.Status.FAILED
    assert ada.ingestion_error == f"quotes: {document.error}"
