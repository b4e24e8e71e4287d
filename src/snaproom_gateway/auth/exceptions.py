"""Errors of the auth domain."""

from snaproom_gateway.core.errors import DomainError


class InvalidCredentials(DomainError):
    """The same message whether the email exists or not: no account enumeration."""

    status_code = 401
    headers = {"WWW-Authenticate": "Bearer"}
    with_rate_limit_headers = True

    def __init__(self) -> None:
        super().__init__("Invalid email or password")
