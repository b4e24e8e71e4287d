"""Errors of the auth domain."""


class InvalidCredentials(Exception):
    """The same message whether the email exists or not: no account enumeration."""

    def __init__(self) -> None:
        super().__init__("Invalid email or password")
