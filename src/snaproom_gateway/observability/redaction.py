"""Secrets never leave in an error answer.

FastAPI's 422 echoes each bad field's `input`: a signup with a 7-character password, or a login
with a 200-character passphrase, would send the password back in the answer (and into any proxy
or browser log that keeps answers). Here the `input` of a field whose name says it holds a secret
is dropped, and secret-named members of an echoed object are masked; the rest of the answer
(location, message, type) is FastAPI's own.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

SECRET_WORDS = ("password", "token", "secret", "authorization", "cookie", "api_key", "apikey")
MASK = "***"


def is_secret_name(name: object) -> bool:
    text = str(name).lower()
    return any(word in text for word in SECRET_WORDS)


def masked(value: Any) -> Any:
    """`value` with every secret-named member of nested objects replaced by ***."""
    if isinstance(value, dict):
        return {k: MASK if is_secret_name(k) else masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [masked(v) for v in value]
    return value


def redacted_errors(errors: Any) -> list[dict[str, Any]]:
    out = []
    for error in errors:
        error = dict(error)
        if any(is_secret_name(part) for part in error.get("loc", ())):
            error.pop("input", None)
            error.pop("ctx", None)
        elif "input" in error:
            error["input"] = masked(error["input"])
        out.append(error)
    return out


async def validation_error_answer(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": jsonable_encoder(redacted_errors(exc.errors()))},
                        status_code=422)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_error_answer)
