"""What the users API reads and answers."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from snaproom_gateway.core.types import UTCTime

USERNAME_PATTERN = r"^[A-Za-z0-9_]{3,32}$"

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


def _http_url(value: str) -> str:
    if not value.startswith(("https://", "http://")) or len(value) < 10 or " " in value:
        raise ValueError("must be an http(s) URL")
    return value


AvatarUrl = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2048),
                      AfterValidator(_http_url)]


class UserPublic(BaseModel):
    """A profile as anyone signed in sees it."""

    id: int
    username: str
    display_name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    bio: str | None = None
    avatar_url: str | None = None
    created_at: UTCTime


class UserPrivate(UserPublic):
    """A profile as its owner sees it."""

    email: str
    role: str
    profile_views: int | None = None


# GET /api/users without `page` or `size` (the route and its fast-path key share them).
DEFAULT_PAGE = 1
DEFAULT_PAGE_SIZE = 20


class UserPage(BaseModel):
    items: list[UserPublic]
    page: int
    size: int
    total: int


class UserUpdate(BaseModel):
    """PATCH /api/users/me: only these fields, at least one; anything else (role, email) or
    nothing is a 422."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    display_name: Name | None = None
    bio: Annotated[str, StringConstraints(max_length=2000)] | None = None
    avatar_url: AvatarUrl | None = None
    first_name: Name | None = None
    last_name: Name | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> UserUpdate:
        if not self.model_fields_set:
            raise ValueError("Nothing to update: send at least one of "
                             + ", ".join(type(self).model_fields))
        return self

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class DeletionAccepted(BaseModel):
    status: str = Field(examples=["deleting"])
    detail: str
