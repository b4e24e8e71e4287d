"""Facts more than one layer states: defined here once."""

# The largest id a route or frame accepts: PostgreSQL's BIGINT, so a bigger one is a 422 before
# any query (which would otherwise fail on the driver's integer conversion).
MAX_ID = 2**63 - 1

# The session cookie (HttpOnly); the same token is accepted as `Authorization: Bearer`.
SESSION_COOKIE = "snaproom_session"


def user_tag(user_id: int | str) -> str:
    """The cache tag of everything cached about one user: invalidating it drops all of it."""
    return f"user:{user_id}"
