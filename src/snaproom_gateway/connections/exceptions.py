"""What can go wrong with a connection request, each with its status code."""

from snaproom_gateway.core.errors import DomainError


class ConnectionError_(DomainError):  # noqa: N801 - not the builtin ConnectionError
    status_code = 400


class SelfConnection(ConnectionError_):
    status_code = 400

    def __init__(self) -> None:
        super().__init__("You cannot connect to yourself")


class UnknownUser(ConnectionError_):
    status_code = 404

    def __init__(self) -> None:
        super().__init__("User not found")


class AlreadyRequested(ConnectionError_):
    status_code = 409

    def __init__(self, status: str) -> None:
        super().__init__("Already connected" if status == "accepted"
                         else "A connection request between you is already pending")


class ConnectionNotFound(ConnectionError_):
    status_code = 404

    def __init__(self) -> None:
        super().__init__("Connection request not found")


class NotAddressee(ConnectionError_):
    status_code = 403

    def __init__(self) -> None:
        super().__init__("Only the user the request was sent to may answer it")


class NotPending(ConnectionError_):
    status_code = 409

    def __init__(self, status: str) -> None:
        super().__init__(f"The request is already {status}")
