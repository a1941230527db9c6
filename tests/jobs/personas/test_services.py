"""The persona rules, which the API and the admin share."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from jobs.errors import RequestRefused
from jobs.personas import services
from jobs.personas.models import Persona
from tests.conftest import submit_deck


def test_a_taken_name_is_refused_as_a_conflict(db, persona):
    with pytest.raises(RequestRefused) as refused:
        services.persona_create(name=persona.name)
    assert (refused.value.status, refused.value.code) == (409, "name_taken")
    assert Persona.objects.filter(name=persona.name).count() == 1


def test_update_changes_only_the_given_fields_and_checks_them(db):
    ava = services.persona_create(name="Ava", speaking_rate=1.1)
    services.persona_update(persona=ava, voice="en_US-ava-medium", speaking_rate=None)
    ava.refresh_from_db()
    assert (ava.voice, ava.speaking_rate) == ("en_US-ava-medium", 1.1)
    with pytest.raises(ValidationError, match="2.0"):
        services.persona_update(persona=ava, speaking_rate=5.0)
    ava.refresh_from_db()
    assert ava.speaking_rate == 1.1


def test_a_persona_in_use_is_kept_and_the_refusal_says_to_disable_it(db, user, persona, deck_path):
    submit_deck(deck_path([("One", "Hello.")]), user, persona)
    with pytest.raises(RequestRefused) as refused:
        services.persona_delete(persona=persona)
    assert (refused.value.status, refused.value.code) == (409, "persona_in_use")
    assert "disable it instead" in refused.value.message
    assert Persona.objects.filter(id=persona.id).exists()


def test_an_unused_persona_is_deleted(db):
    unused = services.persona_create(name="Unused")
    services.persona_delete(persona=unused)
    assert not Persona.objects.filter(id=unused.id).exists()


def test_the_lexicon_is_replaced_whole_or_not_at_all(db, persona):
    services.persona_lexicon_replace(persona=persona, entries=[("SQL", "sequel"), ("k8s", "kates")])
    with pytest.raises(ValidationError, match="listed twice"):
        services.persona_lexicon_replace(
            persona=persona, entries=[("nginx", "engine x"), ("NGINX", "en jinx")]
        )
    with pytest.raises(ValidationError, match="1 to 100 characters"):
        services.persona_lexicon_replace(persona=persona, entries=[("x" * 101, "y")])
    assert sorted(persona.pronunciations.values_list("phrase", "say")) == [
        ("SQL", "sequel"), ("k8s", "kates"),
    ]  # fmt: skip
