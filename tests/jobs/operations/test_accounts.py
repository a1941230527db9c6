"""Deleting a user in the admin removes the files they stored, and only theirs."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from jobs.models import CachedArtifact, Job, Persona
from jobs.operations.tasks import account_files_sweep
from tests.conftest import submit_deck

pytestmark = pytest.mark.django_db(transaction=True)


def _stored_files(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}


def _cached_image(user) -> str:
    name = default_storage.save(f"cache/{user.id}/image/ab/slide.png", ContentFile(b"png"))
    CachedArtifact.objects.create(owner=user, kind="image", key="ab" * 32, file=name, size_bytes=3)
    return name


def test_deleting_a_user_in_the_admin_removes_their_files(
    admin_client, user, other_user, persona, deck_path, media_root
):
    theirs = submit_deck(deck_path([("Hi", "Hello.")], name="mine.pptx"), user, persona)
    own_persona = Persona.objects.create(
        name="Alice's voice", owner=user, tts_engine="piper", voice=persona.voice
    )
    default_storage.save(f"personas/{own_persona.id}/reference/original.wav", ContentFile(b"w"))
    _cached_image(user)
    kept_job = submit_deck(deck_path([("Hi", "Hello.")], name="other.pptx"), other_user, persona)
    kept_cache = _cached_image(other_user)
    kept = {kept_job.deck.name, kept_cache}
    assert kept < _stored_files(media_root)
    assert len(_stored_files(media_root)) == 5

    response = admin_client.post(reverse("admin:auth_user_delete", args=[user.id]), {"post": "yes"})
    assert response.status_code == 302
    assert not get_user_model().objects.filter(id=user.id).exists()
    assert not Job.objects.filter(id=theirs.id).exists()
    # Their deck, persona recording and cached slide are gone; the other user's stay.
    assert _stored_files(media_root) == kept
    # The job they left waiting will not be picked up.
    waiting = ProcrastinateJob.objects.filter(args__job_id=str(theirs.id), status="todo")
    assert not waiting.exists()

    # A step that was running stores a file after the delete; the later sweep removes it.
    late = default_storage.save(f"{theirs.storage_prefix()}/audio/slide-001.wav", ContentFile(b"w"))
    [sweep] = ProcrastinateJob.objects.filter(task_name="slidecast.account_files_sweep")
    limit = settings.WORKER_LIMITS["TASK_TIME_LIMIT_SECONDS"]
    delay = (sweep.scheduled_at - timezone.now()).total_seconds()
    assert limit < delay <= limit + 60
    assert theirs.storage_prefix() in sweep.args["folders"]
    account_files_sweep(**sweep.args)
    assert not default_storage.exists(late)
    assert _stored_files(media_root) == kept


def test_deleting_users_in_bulk_from_the_list_removes_each_ones_files(
    admin_client, user, other_user, persona, deck_path, media_root
):
    submit_deck(deck_path([("Hi", "Hello.")], name="a.pptx"), user, persona)
    submit_deck(deck_path([("Hi", "Hello.")], name="b.pptx"), other_user, persona)
    _cached_image(other_user)
    response = admin_client.post(
        reverse("admin:auth_user_changelist"),
        {"action": "delete_selected", "_selected_action": [user.id, other_user.id], "post": "yes"},
    )
    assert response.status_code == 302
    assert _stored_files(media_root) == set()
