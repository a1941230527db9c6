"""Who is calling: bearer tokens for every endpoint, staff tokens for some."""

from __future__ import annotations

from django.http import HttpRequest
from ninja.security import HttpBearer

from jobs.access.services import api_token_authenticate, rate_limit_check
from jobs.errors import RequestRefused
from jobs.web.forms import oversized_upload_message


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str):
        record = api_token_authenticate(token)
        if record is None:
            return None
        rate_limit_check(record)
        _refuse_oversized_upload(request)
        request.user = record.user
        return record.user


class StaffTokenAuth(TokenAuth):
    def authenticate(self, request: HttpRequest, token: str):
        user = super().authenticate(request, token)
        if user is not None and not user.is_staff:
            raise RequestRefused(403, "staff_only", "This endpoint is for staff tokens only.")
        return user


def _refuse_oversized_upload(request: HttpRequest) -> None:
    too_large = oversized_upload_message(request)
    if too_large:
        raise RequestRefused(413, "upload_too_large", too_large)
