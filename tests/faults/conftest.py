# The real-service plugin (tests/servers.py): fixtures `stack`, `stack_env` and the markers.
from tests.servers import pytest_configure, stack, stack_env  # noqa: F401
