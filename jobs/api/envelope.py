"""Every 4xx under /api/ answers in the API's JSON error envelope, whoever produced it.

django-ninja's handlers cover its own operations; an unknown path (Django's 404), a wrong
method (ninja's plain 405) or a request Django refuses before any view (a malformed body,
a bad Host) would otherwise answer with an HTML page that API clients cannot read.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from jobs.api.errors import error_response

_CODES = {
    400: ("malformed_request", "The request is malformed."),
    403: ("forbidden", "This request is not allowed."),
    404: ("not_found", "There is no such API endpoint. See /api/docs for the endpoints."),
    405: ("method_not_allowed", "This endpoint does not take that HTTP method."),
    413: ("upload_too_large", "The request is too large."),
}


class ApiErrorEnvelopeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not _needs_envelope(request, response):
            return response
        code, message = _CODES.get(response.status_code, ("http_error", "The request failed."))
        if response.status_code == 405 and response.has_header("Allow"):
            message = f"{message} Allowed: {response['Allow']}."
        kept = ("Allow", "WWW-Authenticate", "Retry-After")
        headers = {name: response[name] for name in kept if response.has_header(name)}
        return error_response(request, response.status_code, code, message, headers=headers)


def _needs_envelope(request: HttpRequest, response: HttpResponse) -> bool:
    return (
        request.path.startswith("/api/")
        and 400 <= response.status_code < 500
        and not response.get("Content-Type", "").startswith("application/json")
    )
