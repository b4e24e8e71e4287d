"""The pieces the browser tests run: the built web app, a static server for it, the gateway as
its own process (so a test can stop and restart it), and API helpers for test set-up.

The browser is Debian's chromium driven by Playwright for Python; Playwright's own browser
download cannot work on these machines and is not needed.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
FRONTEND = ROOT / "frontend"
CHROMIUM = os.environ.get("SNAPROOM_E2E_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(os.environ.get("SNAPROOM_E2E_SCREENSHOTS", ROOT / "build" / "e2e-screenshots"))
SESSION_COOKIE = "snaproom_session"
# Variables of the caller's shell that would point the gateway elsewhere than the stack.
_GATEWAY_VARIABLES = ("DATABASE_URL", "REDIS_", "KAFKA_", "CACHE_DRIVER", "CORS_ORIGINS",
                      "RATE_LIMIT_", "APP_ENV", "HOST", "PORT", "WEB_CONCURRENCY", "SECRET_KEY")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def npm(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["npm", *args], cwd=FRONTEND, capture_output=True, text=True,
                          timeout=timeout, check=False)


def ensure_node_modules() -> None:
    """`npm ci` unless node_modules matches the lockfile (npm writes its own copy of it)."""
    installed = FRONTEND / "node_modules" / ".package-lock.json"
    lock = FRONTEND / "package-lock.json"
    if installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime:
        return
    done = npm("ci", "--no-audit", "--no-fund")
    assert done.returncode == 0, f"npm ci failed:\n{done.stdout}\n{done.stderr}"


def build_app(out_dir: Path) -> Path:
    """The production bundle (vite build) into out_dir; /config.json names the gateway at run
    time. The type check of `npm run build` runs once, in tests/frontend."""
    ensure_node_modules()
    done = subprocess.run(["npx", "--no-install", "vite", "build", "--outDir", str(out_dir),
                           "--emptyOutDir"], cwd=FRONTEND, capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, f"vite build failed:\n{done.stdout}\n{done.stderr}"
    return out_dir


class _AppHandler(SimpleHTTPRequestHandler):
    api_url = ""

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        if self.path.split("?")[0] == "/config.json":
            body = json.dumps({"apiUrl": self.api_url}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@contextlib.contextmanager
def static_app(dist: Path, api_url: str, port: int | None = None) -> Iterator[str]:
    """The built app on http://127.0.0.1:PORT, with /config.json naming the gateway."""
    handler = type("AppHandler", (_AppHandler,), {"api_url": api_url})
    server = ThreadingHTTPServer(("127.0.0.1", port or free_port()),
                                 functools.partial(handler, directory=str(dist)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class GatewayProcess:
    """`python -m snaproom_gateway serve` on the stack, as its own process so a test can take
    it down (SIGTERM, as an orchestrator does) and bring it back on the same port."""

    def __init__(self, stack_env: dict[str, str], frontend_origin: str, log_path: Path,
                 port: int | None = None, **settings: str) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        base = {k: v for k, v in os.environ.items() if not k.startswith(_GATEWAY_VARIABLES)}
        self.env = base | stack_env | {
            "APP_ENV": "testing",
            "CORS_ORIGINS": frontend_origin,
            # Every test signs up a few users from 127.0.0.1.
            "RATE_LIMIT_SIGNUP": "1000/minute",
            "RATE_LIMIT_LOGIN": "1000/minute",
            "RATE_LIMIT_WRITES": "1000/minute",
            "LOG_LEVEL": "warning",
            "ACCESS_LOG": "false",
            "SHUTDOWN_TIMEOUT": "5",
        } | settings
        self.process: subprocess.Popen[bytes] | None = None

    def migrate(self) -> None:
        done = subprocess.run([sys.executable, "-m", "snaproom_gateway", "migrate"], env=self.env,
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, f"migrate failed:\n{done.stdout}\n{done.stderr}"

    def start(self, timeout: float = 60) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child holds it
        self.process = subprocess.Popen(
            [sys.executable, "-m", "snaproom_gateway", "serve", "--host", "127.0.0.1",
             "--port", str(self.port)], env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the gateway exited with {self.process.returncode}; "
                                     f"see {self.log_path}:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/api/health/ready", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        self.stop()
        raise AssertionError(f"the gateway did not become ready; see {self.log_path}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


# --- API helpers for set-up (what a test is not about is done over HTTP, not clicked) ----------


def api_signup(api_url: str, username: str, password: str = "correct-horse-battery") -> tuple[dict, str]:
    answer = httpx.post(f"{api_url}/api/auth/signup", timeout=15, json={
        "email": f"{username}@example.com", "username": username, "password": password})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    return body["user"], body["token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def api_connect(api_url: str, token_a: str, token_b: str, user_b_id: int) -> None:
    asked = httpx.post(f"{api_url}/api/connections", json={"to_user_id": user_b_id},
                       headers=bearer(token_a), timeout=15)
    assert asked.status_code == 201, asked.text
    accepted = httpx.post(f"{api_url}/api/connections/{asked.json()['id']}/accept",
                          headers=bearer(token_b), timeout=15)
    assert accepted.status_code == 200, accepted.text


def api_send(api_url: str, token: str, to_user_id: int, text: str) -> dict:
    answer = httpx.post(f"{api_url}/api/messages", json={"to_user_id": to_user_id, "text": text},
                        headers=bearer(token), timeout=15)
    assert answer.status_code == 201, answer.text
    return answer.json()


def session_cookie(api_url: str, token: str) -> dict[str, Any]:
    """The gateway's session cookie as a signed-in browser holds it (HttpOnly, host-only)."""
    return {"name": SESSION_COOKIE, "value": token, "url": api_url, "httpOnly": True,
            "sameSite": "Lax"}


def chromium_path() -> str:
    found = shutil.which(CHROMIUM) or (CHROMIUM if Path(CHROMIUM).exists() else None)
    assert found, (f"{CHROMIUM} is missing: `make test` installs Debian's chromium "
                   "(deploy/make/frontend.mk); or apt-get install chromium")
    return found
