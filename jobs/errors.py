"""The error a service raises to turn a request down; each interface answers it in its own way."""

from __future__ import annotations


class RequestRefused(Exception):
    """A refusal with the HTTP status and code an API answers it with.

    The API sends it as {"error": {"code", "message", "details"}}; other interfaces show
    `message`.
    """

    def __init__(self, status: int, code: str, message: str, details=None, headers=None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details = details if details is not None else []
        self.headers = headers or {}
