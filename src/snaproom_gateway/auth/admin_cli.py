"""`snaproom-gateway users create-admin`: promote the user with this email, or create one."""

from __future__ import annotations

import asyncio
import re

from pydantic import EmailStr, TypeAdapter, ValidationError

from snaproom_gateway.auth.schemas import SignupIn
from snaproom_gateway.core.settings import Settings
from snaproom_gateway.infra import database, migrations
from snaproom_gateway.users import service as users_service
from snaproom_gateway.users.exceptions import UserExists

_email = TypeAdapter(EmailStr)


def _problem(error: ValidationError) -> str:
    item = error.errors()[0]
    where = item["loc"][-1] if item["loc"] else "value"
    return f"invalid {where}: {item['msg']}"


def create_admin_command(settings: Settings, email: str, username: str | None,
                         password: str | None) -> tuple[int, str]:
    """Returns (exit code, one line for the operator): 0 done, 1 refused, 2 bad input."""
    try:
        email = _email.validate_python(email).lower()
    except ValidationError as exc:
        return 2, f"snaproom-gateway: invalid email: {exc.errors()[0]['msg']}"

    async def run() -> tuple[int, str]:
        engine = database.create_engine(settings)
        try:
            if settings.database.should_migrate_on_start:
                await migrations.upgrade(engine)
            async with database.create_sessionmaker(engine)() as session:
                new_name = None
                if await users_service.get_by_email(session, email) is None:
                    # A new user gets the same checks as a signup.
                    new_name = username or re.sub(r"[^a-z0-9_]", "_", email.split("@")[0])
                    try:
                        SignupIn(email=email, username=new_name, password=password or "")
                    except ValidationError as exc:
                        if password is None:
                            return 1, ("snaproom-gateway: a password is needed to create a "
                                       "new user (--password-stdin)")
                        hint = "" if username else " (pass --username)"
                        return 2, f"snaproom-gateway: {_problem(exc)}{hint}"
                try:
                    user, outcome = await users_service.create_admin(
                        session, email=email, username=new_name, password=password)
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
