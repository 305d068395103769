"""Domain errors raised by the services, and the one place they become HTTP responses.

Every error body has the same shape: {"error": "<snake_case kind>", "detail": "<message for a person>"}
(422 bodies from request validation also carry "fields": [{"field": "body.code", "message": ...}]).
`install_error_handlers` maps everything an app can raise to that shape, once: domain errors,
request validation, the framework's own HTTP errors (404 for an unknown path, 405, a body that is
not valid UTF-8 or is nested too deeply to parse), database refusals (a duplicate: 409; a value the
database cannot store, such as a NUL character in text on PostgreSQL: 422) and, last, anything
unexpected (500, logged). `ErrorRead` is the body's schema; `RESPONSES` declares it in OpenAPI.
Importing this module imports no web framework (the services raise these errors from the CLI too).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from models.base import LoupeError

if TYPE_CHECKING:
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

log = logging.getLogger("loupe.app")


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


# -- HTTP ----------------------------------------------------------------------------------------
KINDS = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
         409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type", 422: "invalid", 503: "not_ready"}


def error_response(status: int, kind: str, detail: str, headers: Mapping[str, str] | None = None, **extra: Any) -> JSONResponse:
    """The one error body: {"error": kind, "detail": detail, **extra}."""
    from fastapi.responses import JSONResponse

    return JSONResponse({"error": kind, "detail": detail, **extra}, status_code=status, headers=headers)


def _parse_failure(exc: BaseException | None) -> str:
    """Why FastAPI could not read a body, from the exception behind its 400."""
    if isinstance(exc, UnicodeDecodeError):
        return f"the request body is not valid UTF-8 ({exc.reason} at byte {exc.start})"
    if isinstance(exc, RecursionError):
        return "the JSON body is nested too deeply to parse"
    return "the request body could not be parsed"


def install_error_handlers(app: FastAPI) -> None:
    """Every error the app can raise becomes the one error shape here, and only here."""
    from fastapi import Request
    from fastapi.exceptions import RequestValidationError
    from sqlalchemy.exc import DataError, IntegrityError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout
    from starlette.exceptions import HTTPException

    @app.exception_handler(ServiceError)
    async def _service(_: Request, exc: ServiceError) -> JSONResponse:
        return error_response(exc.status, exc.kind, exc.detail)

    @app.exception_handler(LoupeError)
    async def _loupe(_: Request, exc: LoupeError) -> JSONResponse:
        return error_response(422, "invalid", str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
        detail = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5])
        return error_response(422, "invalid_request", detail, fields=fields)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        detail = str(exc.detail)
        if exc.status_code == 400 and detail == "There was an error parsing the body":
            detail = _parse_failure(exc.__cause__)
        elif exc.status_code == 404 and detail == "Not Found":
            detail = "no such path; GET /docs lists the API"
        elif exc.status_code == 405:
            detail = f"this path does not answer that method; it answers {(exc.headers or {}).get('Allow', 'others')}"
        return error_response(exc.status_code, KINDS.get(exc.status_code, f"http_{exc.status_code}"), detail, headers=exc.headers)

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        return error_response(409, "conflict", "the change conflicts with stored data (a duplicate or a missing reference)")

    @app.exception_handler(DataError)
    @app.exception_handler(UnicodeEncodeError)
    async def _unstorable(_: Request, exc: Exception) -> JSONResponse:
        log.info("refused a value the database cannot store: %s", str(exc).splitlines()[0])
        return error_response(422, "invalid_value", "a value cannot be stored: text may not hold a NUL character or a lone surrogate, "
                                                    "and numbers must fit the database's types; nothing was changed")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return error_response(500, "internal_error", f"an unexpected {type(exc).__name__}; the server log has the details")

    @app.exception_handler(OperationalError)
    @app.exception_handler(PoolTimeout)
    async def _database(_: Request, exc: Exception) -> JSONResponse:
        log.error("database error: %s", exc)
        return error_response(503, "database_unavailable", "the database could not complete the request; try again")


# -- OpenAPI -------------------------------------------------------------------------------------
_DECLARED = {
    401: "no token, or a token this server does not know (or one rotated or deactivated)",
    403: "the token's coder may not do this: not a member, not the owner, or hidden in blind mode",
    404: "a project or another id in the path does not exist (or is not the project's)",
    409: "the change conflicts with stored data or with a job of the project",
    413: "the request body is larger than LOUPE_MAX_UPLOAD_MB",
    415: "the uploaded file's format is not one this endpoint reads",
}


def declare_errors(app: FastAPI) -> None:
    """Declare in the app's OpenAPI document the error answers each operation can give, all with
    the one error body (ErrorRead): 401 and 403 where a token is read, 404 where the path names
    ids, 409 on changes, 413 where there is a body, 415 where it is a file upload; 422 bodies are
    ErrorRead too (with `fields`), not FastAPI's default."""
    from fastapi.openapi.utils import get_openapi

    from service.schemas.review import ErrorRead

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = doc.setdefault("components", {}).setdefault("schemas", {})
        components["ErrorRead"] = ErrorRead.model_json_schema(ref_template="#/components/schemas/{model}")
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        body = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorRead"}}}
        for path, ops in doc.get("paths", {}).items():
            for method, op in ops.items():
                responses = op.setdefault("responses", {})
                codes = []
                if op.get("security"):
                    codes += [401, 403]
                if "{" in path:
                    codes.append(404)
                if method != "get":
                    codes.append(409)
                if "requestBody" in op:
                    codes.append(413)
                    if "multipart/form-data" in op["requestBody"].get("content", {}):
                        codes.append(415)
                for code in codes:
                    responses.setdefault(str(code), {"description": _DECLARED[code], "content": body})
                if "422" in responses:
                    responses["422"] = {"description": "the request breaks a rule or does not validate (`fields` names the fields)", "content": body}
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
