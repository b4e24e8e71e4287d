# The security tests run on the harness: PostgreSQL, Redis + Sentinels (and Kafka where they ask
# for `stack_env`).
from tests.domain_stack import domain_stack_env  # noqa: F401
