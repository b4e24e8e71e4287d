# The social tests run on PostgreSQL, Redis and the Sentinels of the harness, like part 1's.
import asyncio

import pytest

from tests.domain_stack import domain_stack_env, migrate, stack_settings  # noqa: F401


@pytest.fixture(scope="module")
def settings(domain_stack_env):  # noqa: F811 - the fixture imported above
    # In-process bus until the events package lands: tests deliver the outbox themselves.
    configured = stack_settings(domain_stack_env, kafka_brokers=[])
    asyncio.run(migrate(configured))
    return configured
