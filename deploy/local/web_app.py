"""Serve the built web app (frontend/dist) on http://localhost:3000 for `make run`.

The stdlib's static server: the app calls the gateway at the URL it was built with
(VITE_API_URL, default http://localhost:8000, whose CORS_ORIGINS default is this origin).
Production serves the same files with nginx (frontend/Dockerfile).
"""

from __future__ import annotations

import argparse
import functools
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

DIST = Path(__file__).resolve().parents[2] / "frontend" / "dist"


class Handler(SimpleHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        if self.path.split("?")[0] == "/health":
            body = b"ok\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--dist", type=Path, default=DIST)
    args = parser.parse_args()
    if not (args.dist / "index.html").exists():
        raise SystemExit(f"{args.dist}/index.html is missing: run `make frontend` first")
    server = ThreadingHTTPServer((args.host, args.port),
                                 functools.partial(Handler, directory=str(args.dist)))
    print(f"web app on http://localhost:{args.port} (files: {args.dist})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
