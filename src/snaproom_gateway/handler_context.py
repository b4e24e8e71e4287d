"""The runner's database session of a handler context, whichever events API is installed.

The events package gives `ctx.session()` (a method); part 1's stand-in gave `ctx.session`.
Remove this shim once only the events package remains.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession


def session_of(ctx: Any) -> AsyncSession:
    session = ctx.session
    return session if isinstance(session, AsyncSession) else session()
