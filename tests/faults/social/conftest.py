# The social fault tests run on PostgreSQL, Redis and the Sentinels of the harness (no Kafka yet).
from tests.domain_stack import domain_stack_env  # noqa: F401
