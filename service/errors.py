"""Domain errors raised by the services, and the one place they become HTTP responses.

Every error body has the same shape: {"error": "<snake_case kind>", "detail": "<message for a person>"}
(422 bodies from request validation also carry "fields": [{"field": "body.code", "message": ...}]).
"""

from __future__ import annotations

from models.base import LoupeError


class ServiceError(LoupeError):
    status = 400
    kind = "bad_request"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(ServiceError):
    status = 404
    kind = "not_found"

    def __init__(self, what: str, ident: object) -> None:
        super().__init__(f"{what} {ident} does not exist")
        self.kind = f"{what.replace(' ', '_')}_not_found"


class Unauthorized(ServiceError):
    status = 401
    kind = "unauthorized"


class Forbidden(ServiceError):
    status = 403
    kind = "forbidden"


class Conflict(ServiceError):
    status = 409
    kind = "conflict"


class Invalid(ServiceError):
    """A well-formed request that breaks a rule (an unknown code, an undo of an undo...)."""

    status = 422
    kind = "invalid"


class TooLarge(ServiceError):
    status = 413
    kind = "payload_too_large"


class UnsupportedMedia(ServiceError):
    status = 415
    kind = "unsupported_media_type"


class NotReady(ServiceError):
    status = 503
    kind = "not_ready"
