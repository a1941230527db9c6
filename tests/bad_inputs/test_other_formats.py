"""Bad PDF and OpenDocument uploads through a real worker: each fails once, with its reason.

The content decides a deck's kind, not its name: a .pptx named *.pdf is narrated as the
.pptx it is, and a PDF named *.pptx as a PDF.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from procrastinate.contrib.django.models import ProcrastinateJob

from jobs import queueing
from jobs.models import Job
from tests.bad_inputs.corpus import INTERNALS
from tests.conftest import submit_deck
from tests.decks import make_deck
from tests.media_pipeline.deck_files import (
    encrypted_pdf,
    make_odp,
    make_picture_pdf,
    odp_zip_bomb,
    rewrite_odp,
    truncated,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _file(path: Path) -> ContentFile:
    return ContentFile(path.read_bytes(), name=path.name)


def _notes(folder: Path, text: str) -> Path:
    path = folder / "notes.txt"
    path.write_text(text, encoding="utf-8")
    return path


def test_bad_pdfs_and_odps_fail_once_with_their_reason(
    tmp_path: Path, user, persona, settings, run_worker, work_dir
):
    settings.SLIDECAST = {**settings.SLIDECAST, "MAX_SLIDES": 3}
    pdf = make_picture_pdf(tmp_path / "three.pdf", 3)
    odp = make_odp(tmp_path, [("One", "Hello.")])
    bad = {
        "encrypted pdf": (encrypted_pdf(pdf, tmp_path / "locked.pdf"), None,
                          "The PDF is encrypted"),
        "truncated pdf": (truncated(pdf, tmp_path / "cut.pdf"), None, "The PDF is cut short"),
        "too many pages": (make_picture_pdf(tmp_path / "four.pdf", 4), None,
                           "The PDF has 4 pages; the limit is 3."),
        "notes of the wrong count": (pdf, _notes(tmp_path, "One.\n---\nTwo."),
                                     "The notes file has 2 entries but the deck has 3 pages"),
        "odp zip bomb": (odp_zip_bomb(tmp_path / "bomb.odp", expanded_bytes=600 * 1024 * 1024),
                         None, "it looks like a ZIP bomb"),
        "odp without mimetype": (rewrite_odp(odp, tmp_path / "bare.odp", drop={"mimetype"}),
                                 None, "it has no mimetype entry"),
    }  # fmt: skip
    jobs = {
        name: submit_deck(path, user, persona, **({"notes": _file(notes)} if notes else {}))
        for name, (path, notes, _) in bad.items()
    }

    finished = {job.id: job for job in run_worker([job.id for job in jobs.values()])}

    for name, (_, _, message) in bad.items():
        job = finished[jobs[name].id]
        assert (job.status, job.error_code) == (Job.Status.FAILED, "invalid_deck"), name
        assert message in job.error, (name, job.error)
        assert not [internal for internal in INTERNALS if internal in job.error], job.error
        # Bad input is not retried: one attempt, marked failed in the queue.
        queued = ProcrastinateJob.objects.get(
            args__job_id=str(job.id), task_name=queueing.DECOMPOSE
        )
        assert (queued.status, queued.attempts) == ("failed", 1), name


def test_content_not_name_decides_the_kind(tmp_path: Path, user, persona, run_worker, work_dir):
    pptx_named_pdf = tmp_path / "talk.pdf"
    shutil.copy(
        make_deck(tmp_path / "talk.pptx", [("Deck", "A deck in disguise.")]), pptx_named_pdf
    )
    pdf_named_pptx = tmp_path / "pages.pptx"
    shutil.copy(make_picture_pdf(tmp_path / "pages.pdf", 2), pdf_named_pptx)

    disguised = [submit_deck(path, user, persona) for path in (pptx_named_pdf, pdf_named_pptx)]
    assert [job.deck.name.rsplit("/", 1)[1] for job in disguised] == ["deck.pptx", "deck.pdf"]

    as_pptx, as_pdf = run_worker([job.id for job in disguised])

    assert as_pptx.status == Job.Status.COMPLETED, as_pptx.error
    assert [s.notes for s in as_pptx.slides.all()] == ["A deck in disguise."]
    assert as_pdf.status == Job.Status.COMPLETED, as_pdf.error
    assert as_pdf.slide_count == 2
