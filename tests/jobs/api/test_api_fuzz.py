"""Fuzz every API operation from its own OpenAPI schema: no input may cause a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from jobs.access.services import api_token_create
from project.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application)


@pytest.fixture
def fuzz_token(transactional_db, django_user_model, persona) -> str:
    # A staff token reaches every operation, the staff-only ones included. (The WSGI app
    # closes the connection after each request, so the data must be committed.)
    user, _ = django_user_model.objects.get_or_create(username="fuzzer", is_staff=True)
    return api_token_create(user=user, name="fuzz")[1]


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@pytest.mark.django_db(transaction=True)
def test_api_never_answers_5xx(case, fuzz_token, settings_override):
    case.call_and_validate(
        headers={"Authorization": f"Bearer {fuzz_token}", "Host": "localhost"},
        checks=[not_a_server_error],
    )


@pytest.fixture
def settings_override(settings):
    settings.API = {**settings.API, "RATE_LIMIT_PER_MINUTE": 1_000_000}
    settings.ALLOWED_HOSTS = ["*"]
