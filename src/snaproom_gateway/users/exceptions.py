"""Errors of the users domain, each a clear message the router maps to a status."""


class UserExists(Exception):
    def __init__(self, field: str) -> None:
        self.field = field
        super().__init__(f"{field.capitalize()} already registered")


class DeletionInProgress(Exception):
    def __init__(self) -> None:
        super().__init__("Account deletion already in progress")
