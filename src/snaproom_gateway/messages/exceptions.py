"""What can go wrong sending a message, each with its status code."""

from snaproom_gateway.core.errors import DomainError


class MessageError(DomainError):
    status_code = 400


class SelfMessage(MessageError):
    status_code = 400

    def __init__(self) -> None:
        super().__init__("You cannot message yourself")


class UnknownRecipient(MessageError):
    status_code = 404

    def __init__(self) -> None:
        super().__init__("User not found")


class NotConnected(MessageError):
    status_code = 403

    def __init__(self) -> None:
        super().__init__("You can only message your connections")
