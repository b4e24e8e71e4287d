"""Errors of the users domain, each a clear message with its status."""

from snaproom_gateway.core.errors import DomainError


class UserExists(DomainError):
    status_code = 409
    with_rate_limit_headers = True  # raised by signup, whose answers carry them

    def __init__(self, field: str) -> None:
        self.field = field
        super().__init__(f"{field.capitalize()} already registered")


class DeletionInProgress(DomainError):
    status_code = 409

    def __init__(self) -> None:
        super().__init__("Account deletion already in progress")
