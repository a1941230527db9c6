"""The deck-job rules every entry point shares: creating once per key, deleting."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage

from jobs.errors import RequestRefused
from jobs.narration import services
from jobs.narration.models import Job


def _create(deck, user, persona, *, key: str, request_hash: str) -> Job:
    with deck.open("rb") as handle:
        return services.job_create_once(
            owner=user, idempotency_key=key, request_hash=request_hash,
            deck=File(handle, name=deck.name), title=deck.name, persona=persona,
        )  # fmt: skip


def test_the_same_key_and_request_give_the_same_job(db, user, persona, deck_path):
    deck = deck_path([("One", "Hi.")])
    first = _create(deck, user, persona, key="upload-1", request_hash="h1")
    again = _create(deck, user, persona, key="upload-1", request_hash="h1")
    assert again.id == first.id
    assert Job.objects.filter(owner=user).count() == 1

    with pytest.raises(RequestRefused) as refused:
        _create(deck, user, persona, key="upload-1", request_hash="h2")
    assert refused.value.status == 409
    assert Job.objects.filter(owner=user).count() == 1


def test_without_a_key_every_request_makes_a_job(db, user, persona, deck_path):
    deck = deck_path([("One", "Hi.")])
    _create(deck, user, persona, key="", request_hash="")
    _create(deck, user, persona, key="", request_hash="")
    assert Job.objects.filter(owner=user).count() == 2


def test_a_running_job_is_not_deleted_and_keeps_its_files(db, user, persona, deck_path):
    deck = deck_path([("One", "Hi.")])
    job = _create(deck, user, persona, key="", request_hash="")
    with pytest.raises(ValidationError, match="cancel it first"):
        services.job_delete(job=job)
    assert default_storage.exists(job.deck.name)

    services.job_cancel(job=job)
    job.refresh_from_db()
    services.job_delete(job=job)
    assert not Job.objects.filter(id=job.id).exists()
    assert not default_storage.exists(job.deck.name)
