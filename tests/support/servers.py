"""Pytest plugin: the real-service stack (deploy/local/stack.py) as session fixtures.

Register it with ``pytest_plugins = ["tests.support.servers"]`` in a conftest. It provides:

* ``stack``: a session-scoped :class:`Stack`. If the stack in ``$SNAPROOM_STACK_DIR`` (default
  ``<repo>/.stack``, ports shifted by ``$SNAPROOM_STACK_PORT_OFFSET``) is already up and answering,
  it is reused and left running. Otherwise the fixture starts whatever is missing, waits until
  every service is ready, and at session end stops exactly the services it started (also when the
  session fails). Set ``SNAPROOM_STACK_KEEP=1`` to leave them running for the next session.
* ``stack_env``: the app's environment for that stack (DATABASE_URL, REDIS_*, KAFKA_BROKERS, ...).
* the markers ``integration`` and ``faults``.

The fixture starts nothing unless a test asks for it, so unit-test runs stay fast.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import sys
from pathlib import Path

import pytest

_STACK_PY = Path(__file__).resolve().parents[2] / "deploy" / "local" / "stack.py"


def _load_stack_module():
    name = "snaproom_stack"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, _STACK_PY)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


stack_mod = _load_stack_module()
Stack = stack_mod.Stack
StackError = stack_mod.StackError


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "integration: talks to real PostgreSQL/Redis/Kafka from deploy/local/stack.py")
    config.addinivalue_line(
        "markers", "faults: kills and restarts services of the real stack (slow; run with -m faults)")


@contextlib.contextmanager
def _state_lock(st):
    """Serialise bring-up between concurrent pytest sessions sharing one state dir."""
    st.state_dir.mkdir(parents=True, exist_ok=True)
    with open(st.state_dir / ".fixture.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


@pytest.fixture(scope="session")
def stack():
    st = Stack(verbose=False)
    with _state_lock(st):
        before = set(st.running())
        try:
            st.up()
        except BaseException:
            st.down(*(set(st.running()) - before))
            raise
    try:
        yield st
    finally:
        if os.environ.get("SNAPROOM_STACK_KEEP") != "1":
            ours = [n for n in st.running() if n not in before]
            if ours:
                st.down(*ours)


@pytest.fixture(scope="session")
def stack_env(stack) -> dict[str, str]:
    return stack.env()
