"""API tokens for the API tests: a user's, another user's, and a staff member's."""

from __future__ import annotations

import pytest

from jobs.access.services import api_token_create


@pytest.fixture
def token(user) -> str:
    return api_token_create(user=user, name="tests")[1]


@pytest.fixture
def other_token(other_user) -> str:
    return api_token_create(user=other_user, name="other")[1]


@pytest.fixture
def staff_token(django_user_model) -> str:
    staff = django_user_model.objects.create_user("staff", password="staff-pass-1", is_staff=True)
    return api_token_create(user=staff, name="staff")[1]


def auth(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}
