#!/usr/bin/env python3
"""Query every health endpoint of a running gateway and print one table row per endpoint.

    python3 deploy/health_check.py [--base-url http://127.0.0.1:8000] [--timeout 5] [--strict]

Works against any gateway: the compose stack (`make health-check`), the no-Docker local stack
(deploy/local/stack.py) or a single `snaproom-gateway serve`. Standard library only, so it runs
on a host without the project's virtualenv.

Exit status: 0 when every endpoint answered and none is unhealthy; 1 when any endpoint is
unreachable, timed out, answered an HTTP error (503 is how the gateway says "unhealthy") or
reported "status": "unhealthy" (with --strict, "degraded" also fails); 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

ENDPOINTS: tuple[str, ...] = (
    "/api/health",
    "/api/health/live",
    "/api/health/ready",
    "/api/health/detailed",
    "/api/health/database",
    "/api/health/redis",
    "/api/health/kafka",
    "/api/health/full",
)

HEALTHY_STATUSES = frozenset({"healthy", "degraded"})


@dataclass(frozen=True)
class EndpointResult:
    endpoint: str
    http_status: int | None  # None: no HTTP answer at all
    status: str  # the JSON "status" field, or what went wrong
    elapsed_ms: float

    def ok(self, strict: bool) -> bool:
        if self.http_status is None or self.http_status >= 400:
            return False
        if strict:
            return self.status == "healthy"
        return self.status in HEALTHY_STATUSES


def _status_field(body: bytes) -> str:
    try:
        document = json.loads(body)
    except ValueError:
        return "invalid JSON"
    if isinstance(document, dict) and isinstance(document.get("status"), str):
        return document["status"]
    return "no status field"


def check_endpoint(base_url: str, endpoint: str, timeout: float) -> EndpointResult:
    request = urllib.request.Request(
        base_url.rstrip("/") + endpoint,
        headers={"Accept": "application/json", "User-Agent": "snaproom-health-check"},
    )
    started = time.perf_counter()
    try:
        # The timeout bounds the connect and each socket read, so a hung endpoint cannot hang us.
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
            http_status = response.status
    except urllib.error.HTTPError as error:
        # 503 carries the same JSON body as 200: report its "status" field too.
        body = error.read()
        http_status = error.code
    except TimeoutError:
        return EndpointResult(endpoint, None, "timeout", _ms_since(started))
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        if isinstance(reason, TimeoutError):
            return EndpointResult(endpoint, None, "timeout", _ms_since(started))
        return EndpointResult(endpoint, None, f"unreachable ({reason})", _ms_since(started))
    return EndpointResult(endpoint, http_status, _status_field(body), _ms_since(started))


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0


def render_table(results: list[EndpointResult], strict: bool) -> str:
    header = ("ENDPOINT", "HTTP", "STATUS", "TIME (ms)", "RESULT")
    rows = [
        (
            result.endpoint,
            "-" if result.http_status is None else str(result.http_status),
            result.status,
            f"{result.elapsed_ms:.1f}",
            "ok" if result.ok(strict) else "FAIL",
        )
        for result in results
    ]
    widths = [max(len(row[column]) for row in (header, *rows)) for column in range(len(header))]
    lines = []
    for row in (header, *rows):
        cells = [
            cell.rjust(width) if column in (1, 3) else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Check every snaproom-gateway health endpoint and print a table of HTTP status, "
            "reported status and response time. "
            "Exits 1 if any endpoint is unhealthy or unreachable."
        ),
    )
    parser.add_argument(
        "--base-url",
        default="http://127.0.0.1:8000",
        help="gateway base URL (default: %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=_positive_float,
        default=5.0,
        help="seconds each request may wait to connect and for each read (default: %(default)s)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help='treat "degraded" as a failure too',
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = [check_endpoint(args.base_url, endpoint, args.timeout) for endpoint in ENDPOINTS]
    print(f"snaproom-gateway health at {args.base_url}")
    print(render_table(results, args.strict))
    failed = [result.endpoint for result in results if not result.ok(args.strict)]
    if failed:
        print(f"\n{len(failed)} of {len(results)} endpoints not healthy: {', '.join(failed)}")
        return 1
    print(f"\nall {len(results)} endpoints healthy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
