"""`snaproom-gateway users create-admin`: validate, then promote or create in one transaction."""

from __future__ import annotations

import asyncio

from pydantic import ValidationError

from snaproom_gateway.auth.schemas import SignupIn
from snaproom_gateway.infra import database, migrations
from snaproom_gateway.settings import Settings
from snaproom_gateway.users import service as users_service
from snaproom_gateway.users.exceptions import UserExists


def _problem(error: ValidationError) -> str:
    item = error.errors()[0]
    return f"invalid {item['loc'][-1]}: {item['msg']}"


def create_admin_command(settings: Settings, email: str, username: str | None,
                         password: str | None) -> tuple[int, str]:
    """Returns (exit code, one line for the operator)."""
    try:
        checked = SignupIn(email=email, username=username or email.split("@")[0],
                           password=password or "placeholder-not-used")
    except ValidationError as exc:
        return 2, f"snaproom-gateway: {_problem(exc)}"
    if password is not None and len(password) < 8:
        return 2, "snaproom-gateway: invalid password: at least 8 characters"

    async def run() -> tuple[int, str]:
        engine = database.create_engine(settings)
        try:
            if settings.migrate_on_start:
                await migrations.upgrade(engine)
            async with database.create_sessionmaker(engine)() as session:
                try:
                    user, outcome = await users_service.create_admin(
                        session, email=checked.email, username=checked.username,
                        password=password)
                except (ValueError, UserExists) as exc:
                    return 1, f"snaproom-gateway: {exc}"
                await session.commit()
        finally:
            await engine.dispose()
        said = {"created": "created", "promoted": "promoted", "unchanged": "was already an admin"}
        return 0, f"admin {user.email} (id {user.id}) {said[outcome]}"

    try:
        return asyncio.run(run())
    except (OSError, ConnectionError) as exc:
        return 1, f"snaproom-gateway: cannot reach the database (DATABASE_URL): {exc}"
