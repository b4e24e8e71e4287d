"""The base of every domain error: what went wrong, worded for the client, with its HTTP status.

Domains raise these without knowing HTTP; the API registers one handler that answers each as
`{"detail": <detail>}` with `status_code` and `headers` (api_errors.py), and the WebSocket
turns them into error frames with the same status and text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar


class DomainError(Exception):
    """A request the domain refuses: a 4xx answer, never a failure of a dependency."""

    status_code: ClassVar[int] = 400
    # Fixed headers of the answer (e.g. WWW-Authenticate on a 401).
    headers: ClassVar[Mapping[str, str]] = {}
    # The answer also carries the request's X-RateLimit-* headers (as the auth routes' errors
    # always have).
    with_rate_limit_headers: ClassVar[bool] = False

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail
