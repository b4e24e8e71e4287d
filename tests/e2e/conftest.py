"""Fixtures of the browser tests: the built app, the gateway on the real stack, chromium."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.e2e.web_app import (
    SCREENSHOTS,
    GatewayProcess,
    build_app,
    chromium_path,
    free_port,
    static_app,
)


@pytest.fixture(scope="session")
def app_dist(tmp_path_factory) -> Path:
    return build_app(tmp_path_factory.mktemp("web-app") / "dist")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    # Module scope, not session: Playwright's sync API holds an event loop while it is open,
    # and every asyncio test after the browser tests would fail on it.
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


class WebApp:
    """The app served at `url`, talking to the gateway at `api_url`."""

    def __init__(self, url: str, gateway: GatewayProcess) -> None:
        self.url = url
        self.gateway = gateway

    @property
    def api_url(self) -> str:
        return self.gateway.url


@contextlib.contextmanager
def _served(app_dist: Path, stack_env: dict[str, str], log_dir: Path) -> Iterator[WebApp]:
    app_port = free_port()
    gateway = GatewayProcess(stack_env, f"http://127.0.0.1:{app_port}", log_dir / "gateway.log")
    gateway.migrate()
    gateway.start()
    try:
        with static_app(app_dist, gateway.url, port=app_port) as url:
            yield WebApp(url, gateway)
    finally:
        gateway.stop()


@pytest.fixture(scope="module")
def web_app(app_dist, stack_env, tmp_path_factory) -> Iterator[WebApp]:
    """One gateway (its own process) and the app in front of it, shared by a test module."""
    with _served(app_dist, stack_env, tmp_path_factory.mktemp("gateway")) as app:
        yield app


@pytest.fixture
def own_web_app(app_dist, stack_env, tmp_path) -> Iterator[WebApp]:
    """A gateway and app of the test's own, for a test that stops and restarts the gateway."""
    with _served(app_dist, stack_env, tmp_path) as app:
        yield app


@pytest.fixture
def new_page(browser):
    """new_page() -> a page in a fresh browser context (its own cookies: one person each)."""
    contexts = []

    def make(viewport: dict[str, int] | None = None):
        context = browser.new_context(viewport=viewport or {"width": 1100, "height": 760})
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def unique() -> str:
    """A short suffix that keeps usernames apart across runs on the same database."""
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
