"""Errors a use case raises; the HTTP layer maps them to status codes with a reason."""

from __future__ import annotations


class PasserelleError(Exception):
    status_code = 400
    code = "bad-request"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotFound(PasserelleError):
    status_code = 404
    code = "not-found"


class Conflict(PasserelleError):
    """The request is valid but not in the current state (e.g. an invalid status transition)."""

    status_code = 409
    code = "conflict"


class Forbidden(PasserelleError):
    status_code = 403
    code = "forbidden"


class Invalid(PasserelleError):
    """The request is well-formed but names something that does not exist or cannot be used."""

    status_code = 422
    code = "invalid-request"
