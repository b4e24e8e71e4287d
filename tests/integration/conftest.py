# Registers the real-service plugin (tests/servers.py): fixtures `stack`, `stack_env` and the
# `integration`/`faults` markers. Imported rather than listed in `pytest_plugins`, because pytest
# rejects `pytest_plugins` in a conftest below the rootdir when run as plain `pytest` from the repo
# root. (A root conftest.py may instead say `pytest_plugins = ["tests.servers"]`; both can coexist.)
from tests.servers import pytest_configure, stack, stack_env  # noqa: F401
