"""The web app's own checks, run by `make test` like every other test: the TypeScript type
check and the Vitest component tests (frontend/src/**/*.test.ts[x]). No servers."""

from __future__ import annotations

import subprocess

from tests.e2e.web_app import FRONTEND, ensure_node_modules


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    ensure_node_modules()
    return subprocess.run(command, cwd=FRONTEND, capture_output=True, text=True, timeout=600,
                          check=False, env=None)


def test_the_web_app_type_checks():
    done = _run("npx", "--no-install", "tsc", "-p", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_vitest_component_tests_pass():
    done = _run("npx", "--no-install", "vitest", "run", "--reporter=dot")
    assert done.returncode == 0, done.stdout + done.stderr
    assert " passed" in done.stdout, done.stdout
