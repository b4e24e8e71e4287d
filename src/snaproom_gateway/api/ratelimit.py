"""`rate_limit(name, key=...)`: a route dependency counting requests per IP or per signed-in user.

The limit is the setting RATE_LIMIT_<NAME> ("10/minute"). Answers carry X-RateLimit-Limit,
-Remaining and -Reset; a refused request gets 429 with Retry-After. When the limiter cannot
decide (Redis down) the request goes through: see infra/ratelimit.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal

from fastapi import Depends, HTTPException, Request, Response, status

from snaproom_gateway.api.auth import CurrentUser
from snaproom_gateway.infra.ratelimit import Decision, LimiterBusy, RequestLimiter
from snaproom_gateway.resilience.dependency import DependencyUnavailable


def _headers(decision: Decision) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(decision.limit),
        "X-RateLimit-Remaining": str(decision.remaining),
        "X-RateLimit-Reset": str(int(decision.reset_at)),
    }


async def _apply(request: Request, response: Response, name: str, identity: str) -> None:
    settings = request.app.state.runtime.settings
    limiter: RequestLimiter = request.app.state.runtime.rate_limiter
    if not settings.rate_limits.enabled:
        return
    spec = getattr(settings.rate_limits, name)
    try:
        decision = await limiter.hit(spec, name, identity)
    except LimiterBusy:  # load: refused with 503 and Retry-After, never admitted unchecked
        raise DependencyUnavailable.busy("rate limiter") from None
    if decision is None:  # failed open
        return
    headers = _headers(decision)
    if not decision.allowed:
        headers["Retry-After"] = str(decision.retry_after)
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"Too many requests: the limit is {spec}; retry in {decision.retry_after} s",
            headers=headers)
    response.headers.update(headers)
    request.state.rate_limit_headers = headers  # for the route's own error answers


def rate_limit_headers(request: Request) -> dict[str, str]:
    """The X-RateLimit-* headers of this request, for an HTTPException the route raises."""
    return dict(getattr(request.state, "rate_limit_headers", {}))


def client_ip(request: Request) -> str:
    # uvicorn's proxy_headers has already put the trusted X-Forwarded-For into client.host.
    return request.client.host if request.client else "unknown"


def rate_limit(name: str, *, key: Literal["ip", "user"] = "ip"
               ) -> Callable[..., Awaitable[None]]:
    """A dependency for `dependencies=[Depends(rate_limit("login"))]` on a route."""
    if key == "user":
        async def per_user(request: Request, response: Response, user: CurrentUser) -> None:
            await _apply(request, response, name, f"user:{user.id}")

        return per_user

    async def per_ip(request: Request, response: Response) -> None:
        await _apply(request, response, name, f"ip:{client_ip(request)}")

    return per_ip


# Writes of a signed-in user (profile, connections, messages): RATE_LIMIT_WRITES per user.
writes_limited = Depends(rate_limit("writes", key="user"))
