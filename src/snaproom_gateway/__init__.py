"""Snaproom gateway: an async backend-for-frontend over PostgreSQL, Redis and Kafka."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("snaproom-gateway")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

SERVICE_NAME = "snaproom-gateway"
