# `settings`: the harness's PostgreSQL (migrated) and Redis without Kafka, for the tests that
# ask for it (a test module's own `settings` fixture takes precedence).
from tests.support.domain_stack import settings  # noqa: F401
