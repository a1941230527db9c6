"""API tokens: creation (shown once, stored hashed), authentication and rate limiting."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from jobs.models import ApiToken

TOKEN_PREFIX = "sc_"


class ApiError(Exception):
    """An error answered as {"error": {"code", "message", "details"}} with a 4xx status."""

    def __init__(self, status: int, code: str, message: str, details=None, headers=None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details = details if details is not None else []
        self.headers = headers or {}


def token_hash(token: str) -> str:
    # Tokens carry 256 random bits, so a plain SHA-256 is as safe as a slow password hash
    # and lets a request find its token by an indexed lookup.
    return hashlib.sha256(token.encode()).hexdigest()


def api_token_create(*, user, name: str) -> tuple[ApiToken, str]:
    """Return the new token's record and the token itself, which is never stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken.objects.create(
        user=user, name=name, prefix=token[:10], key_hash=token_hash(token)
    )
    return record, token


def api_token_authenticate(token: str) -> ApiToken | None:
    record = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=token_hash(token), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if record is not None and (
        record.last_used_at is None or timezone.now() - record.last_used_at > timedelta(minutes=1)
    ):
        ApiToken.objects.filter(pk=record.pk).update(last_used_at=timezone.now())
    return record


def rate_limit_check(token: ApiToken) -> None:
    """Count the request in the token's current minute; over the limit raise a 429."""
    limit = settings.API["RATE_LIMIT_PER_MINUTE"]
    now = timezone.now()
    window = now.replace(second=0, microsecond=0)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO jobs_apiratewindow (token_id, window_start, count) VALUES (%s, %s, 1)
            ON CONFLICT (token_id, window_start)
            DO UPDATE SET count = jobs_apiratewindow.count + 1
            RETURNING count
            """,
            [token.pk, window],
        )
        count = cursor.fetchone()[0]
    if count > limit:
        retry_after = max(1, 60 - now.second)
        raise ApiError(
            429,
            "rate_limited",
            f"Too many requests: this token may make {limit} requests a minute. "
            f"Try again in {retry_after} s.",
            headers={"Retry-After": str(retry_after)},
        )
