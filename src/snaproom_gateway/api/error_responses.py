"""Error answers: always `{"detail": ...}`. The one handler of domain errors, and the answers
routes declare in the OpenAPI schema."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from snaproom_gateway.api.ratelimit import rate_limit_headers
from snaproom_gateway.core.errors import DomainError


class ErrorDetail(BaseModel):
    detail: str


_DESCRIPTIONS = {
    400: "Bad request",
    401: "Not authenticated (no, expired or revoked session)",
    403: "Admin role required",
    404: "Not found",
    409: "Conflict with the current state",
    429: "Too many requests; see Retry-After and X-RateLimit-*",
    503: "A backing service (presence store) is unavailable; retry later",
}


async def domain_error_answer(request: Request, exc: Exception) -> JSONResponse:
    """A domain error as the 4xx answer: the same bytes FastAPI's HTTPException handler sends."""
    assert isinstance(exc, DomainError)
    headers = dict(exc.headers)
    if exc.with_rate_limit_headers:
        headers |= rate_limit_headers(request)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                        headers=headers or None)


def answer_domain_errors(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, domain_error_answer)


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route. 422 is added by FastAPI itself for routes that take input."""
    answers: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        answer: dict[str, Any] = {"model": ErrorDetail, "description": _DESCRIPTIONS[code]}
        if code == 401:
            answer["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
        if code == 429:
            answer["headers"] = {name: {"schema": {"type": "integer"}} for name in
                                 ("Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining",
                                  "X-RateLimit-Reset")}
        answers[code] = answer
    return answers


def document_unreadable_bodies(app: FastAPI) -> None:
    """FastAPI answers 400 {"detail": "There was an error parsing the body"} to a body it cannot
    decode (not UTF-8): the schema says so for every operation that takes a body."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    if "requestBody" in operation:
                        operation["responses"].setdefault("400", {
                            "description": "Bad request (a body that cannot be read)",
                            "content": {"application/json": {
                                "schema": ErrorDetail.model_json_schema()}}})
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
