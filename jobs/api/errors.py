"""The one error shape of the API, and the handlers that give every failure that shape."""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, JsonResponse
from django.http.multipartparser import MultiPartParserError
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from jobs.errors import RequestRefused


class ErrorBody(Schema):
    code: str
    message: str
    details: list[dict] = []


class ErrorOut(Schema):
    error: ErrorBody


ERRORS = {400: ErrorOut, 401: ErrorOut, 404: ErrorOut, 409: ErrorOut, 413: ErrorOut,
          422: ErrorOut, 429: ErrorOut}  # fmt: skip


def error_response(
    request: HttpRequest, status: int, code: str, message: str, details=None, headers=None
) -> JsonResponse:
    response = JsonResponse(
        {"error": {"code": code, "message": message, "details": details or []}},
        status=status,
        content_type="application/json; charset=utf-8",
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _api_error(request, exc: RequestRefused):
    return error_response(request, exc.status, exc.code, exc.message, exc.details, exc.headers)


def _validation_error(request, exc: NinjaValidationError):
    details = [
        {
            "field": _field_name(error.get("loc", [])),
            "message": error.get("msg", "invalid"),
            "type": error.get("type", ""),
        }
        for error in exc.errors
    ]
    summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
    return error_response(
        request, 422, "validation_error", f"The request is not valid: {summary}", details
    )


def _field_name(location) -> str:
    # ("body", "data", "language") -> "language"; ("query", "limit") -> "limit"
    parts = [str(part) for part in location[1:]]
    if len(parts) > 1 and parts[0] == "data":
        parts = parts[1:]
    return ".".join(parts) or "request"


def _model_validation_error(request, exc: DjangoValidationError):
    if hasattr(exc, "message_dict"):
        details = [
            {"field": field, "message": " ".join(messages)}
            for field, messages in exc.message_dict.items()
        ]
    else:
        details = [{"field": "request", "message": message} for message in exc.messages]
    summary = "; ".join(f"{d['field']}: {d['message']}" for d in details)
    return error_response(
        request, 422, "validation_error", f"The request is not valid: {summary}", details
    )


def _authentication_error(request, exc):
    return error_response(
        request, 401, "unauthorized",
        "Send a valid API token as 'Authorization: Bearer <token>'.",
        headers={"WWW-Authenticate": "Bearer"},
    )  # fmt: skip


def _not_found(request, exc):
    return error_response(request, 404, "not_found", str(exc) or "Not found.")


def _http_error(request, exc: HttpError):
    return error_response(request, exc.status_code, "http_error", str(exc))


def _malformed_body(request, exc):
    return error_response(
        request, 400, "malformed_request",
        "The request body is not valid multipart/form-data (a missing or broken boundary, "
        "or a truncated part). Send the deck as a multipart form field named 'deck'.",
    )  # fmt: skip


def _body_too_big(request, exc):
    return error_response(
        request, 413, "upload_too_large", "The request's form fields are too large."
    )


def _suspicious_request(request, exc):
    # Too many fields or files, or a malformed header: Django refuses these on purpose.
    return error_response(
        request, 400, "malformed_request", "The request is malformed or too complex."
    )


def install_error_handlers(api: NinjaAPI) -> None:
    """Answer every exception an endpoint may raise in the API's error shape."""
    api.add_exception_handler(RequestRefused, _api_error)
    api.add_exception_handler(NinjaValidationError, _validation_error)
    api.add_exception_handler(DjangoValidationError, _model_validation_error)
    api.add_exception_handler(AuthenticationError, _authentication_error)
    api.add_exception_handler(Http404, _not_found)
    api.add_exception_handler(HttpError, _http_error)
    api.add_exception_handler(MultiPartParserError, _malformed_body)
    api.add_exception_handler(RequestDataTooBig, _body_too_big)
    api.add_exception_handler(SuspiciousOperation, _suspicious_request)
