"""Token revocation and idempotency keys, shared by the admin, the CLI and the API."""

from __future__ import annotations

import pytest

from jobs.access import services
from jobs.access.models import ApiToken
from jobs.errors import RequestRefused


def test_revoking_stops_the_token_and_counts_only_valid_ones(db, user):
    first, first_token = services.api_token_create(user=user, name="ci")
    second, second_token = services.api_token_create(user=user, name="laptop")
    assert services.api_token_authenticate(first_token) == first

    assert services.api_tokens_revoke(tokens=ApiToken.objects.filter(id=first.id)) == 1
    assert services.api_tokens_revoke(tokens=ApiToken.objects.all()) == 1  # only the second
    assert services.api_token_authenticate(first_token) is None
    assert services.api_token_authenticate(second_token) is None


def test_an_idempotency_key_is_bound_to_its_request(db, user, persona, deck_path):
    from tests.conftest import submit_deck

    job = submit_deck(deck_path([("One", "Hi.")]), user, persona)
    assert services.idempotent_job(user=user, key="k1", request_hash="abc") is None
    services.idempotency_key_record(user=user, key="k1", request_hash="abc", job=job)
    assert services.idempotent_job(user=user, key="k1", request_hash="abc") == job
    with pytest.raises(RequestRefused) as refused:
        services.idempotent_job(user=user, key="k1", request_hash="other")
    assert (refused.value.status, refused.value.code) == (409, "idempotency_key_reused")
