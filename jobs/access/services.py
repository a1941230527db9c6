"""API tokens: creation (shown once, stored hashed), authentication and rate limiting."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from jobs.access.models import ApiRateWindow, ApiToken, IdempotencyKey
from jobs.errors import RequestRefused

TOKEN_PREFIX = "sc_"


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
        raise RequestRefused(
            429,
            "rate_limited",
            f"Too many requests: this token may make {limit} requests a minute. "
            f"Try again in {retry_after} s.",
            headers={"Retry-After": str(retry_after)},
        )


def api_token_rename(*, token: ApiToken, name: str) -> None:
    """Change the label of a token; the token itself never changes."""
    ApiToken.objects.filter(pk=token.pk).update(name=name[:100])


def api_tokens_revoke(*, tokens) -> int:
    """Revoke the tokens of a queryset that are still valid; return how many were."""
    return tokens.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())


def api_rate_windows_prune(*, older_than: timedelta = timedelta(hours=1)) -> int:
    """Delete rate-limit counts of windows long past; return how many went."""
    deleted, _ = ApiRateWindow.objects.filter(window_start__lt=timezone.now() - older_than).delete()
    return deleted


def idempotent_job(*, user, key: str, request_hash: str):
    """Return the job created earlier under `key`, or None when the key is new.

    The same key with another request is refused (409): a client that reuses a key for a
    new deck would otherwise get an old job back without noticing.
    """
    previous = IdempotencyKey.objects.filter(user=user, key=key).select_related("job").first()
    if previous is None:
        return None
    if previous.request_hash != request_hash:
        raise RequestRefused(
            409, "idempotency_key_reused",
            "This Idempotency-Key was used with a different deck or options. "
            "Use a new key for a new request.",
            [{"field": "Idempotency-Key", "message": "already used for another request"}],
        )  # fmt: skip
    return previous.job


def idempotency_key_record(*, user, key: str, request_hash: str, job) -> None:
    """Remember which job `key` created (IntegrityError when another request took it first)."""
    IdempotencyKey.objects.create(user=user, key=key, request_hash=request_hash, job=job)


def command_line_user(*, username: str):
    """Return the user that owns jobs made on the command line, created unable to log in."""
    user, created = get_user_model().objects.get_or_create(username=username)
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user
