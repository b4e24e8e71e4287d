"""Auth requests and answers, and the signed-in user as every route receives it."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, EmailStr, Field, StringConstraints, field_validator

from snaproom_gateway.users.schemas import USERNAME_PATTERN, Name, UserPrivate

Password = Annotated[str, Field(min_length=8, max_length=128)]


class SignupIn(BaseModel):
    email: EmailStr
    username: Annotated[str, StringConstraints(pattern=USERNAME_PATTERN)] = Field(
        description="3-32 letters, digits or underscores; case-insensitive")
    password: Password
    first_name: Name | None = None
    last_name: Name | None = None

    @field_validator("email", "username")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class LoginIn(BaseModel):
    email: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=254)]
    password: Annotated[str, Field(min_length=1, max_length=128)]


class AuthOut(BaseModel):
    user: UserPrivate
    token: str = Field(description="The session token; also set as the HttpOnly cookie")


class AuthUser(BaseModel):
    """The signed-in user of a request (built from the user cache, no database on a hit)."""

    model_config = {"frozen": True}

    id: int
    email: str
    username: str
    role: str
    display_name: str | None = None
    session_hash: str = Field(repr=False)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"
