"""CPU per request of the app itself (no server, no load generator), for comparing builds on a
busy host where req/s says little: N requests through httpx's ASGI transport, the process's
CPU time over them divided by N. Background tasks of the app (relay polling) count too, equally
for every build.

    python bench/observability_cpu.py ROUTE [--requests 3000] [--otel]
    ROUTE: live (/api/health/live) | owner-read (GET /api/users/{id} by its signed-in owner)

Prints one number, microseconds per request. `--otel` turns OpenTelemetry on, exporting to a
local sink that drops the spans. Run alternately against two checkouts (PYTHONPATH=.../src) and
compare medians.
"""

from __future__ import annotations

import argparse
import asyncio
import http.server
import tempfile
import threading
import time

import httpx

from snaproom_gateway.api.app import create_app
from snaproom_gateway.core.settings import Settings


class _Sink(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *_args) -> None:
        pass


async def measure(route: str, requests: int, otlp: str | None) -> float:
    tmp = tempfile.mkdtemp(prefix="obs-cpu-")
    extra = {"otel_exporter_otlp_endpoint": otlp} if otlp else {}
    settings = Settings(_env_file=None, app_env="testing", log_level="warning",
                        database_url=f"sqlite+aiosqlite:///{tmp}/cpu.db",
                        rate_limit_enabled=False, access_log=False, outbox_poll_interval=5.0,
                        **extra)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            path, headers = "/api/health/live", {}
            if route == "owner-read":
                answer = await client.post("/api/auth/signup", json={
                    "email": "cpu@example.com", "username": "cpu",
                    "password": "correct-horse-battery"})
                body = answer.json()
                path = f"/api/users/{body['user']['id']}"
                headers = {"Authorization": f"Bearer {body['token']}"}
            for _ in range(300):  # warm: caches filled, code paths imported
                assert (await client.get(path, headers=headers)).status_code == 200
            started = time.process_time()
            for _ in range(requests):
                await client.get(path, headers=headers)
            return (time.process_time() - started) / requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("route", choices=["live", "owner-read"])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--otel", action="store_true")
    args = parser.parse_args()
    otlp = None
    if args.otel:
        sink = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
        threading.Thread(target=sink.serve_forever, daemon=True).start()
        otlp = f"http://127.0.0.1:{sink.server_address[1]}"
    print(f"{asyncio.run(measure(args.route, args.requests, otlp)):.1f}")


if __name__ == "__main__":
    main()
