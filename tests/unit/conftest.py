import pytest

from tests.support.apps import running_app


@pytest.fixture
def domain_settings(embedded_settings):
    # Generous limits: the rate limit tests set their own.
    return embedded_settings.with_changes(**{
        "rate_limit_login": "1000/minute", "rate_limit_signup": "1000/minute",
        "rate_limit_writes": "1000/minute", "user_deletion_retry_delay": 0.0})


@pytest.fixture
async def app_client(domain_settings):
    # The embedded TaggedCache (memory driver): the one the product runs on without Redis.
    async with running_app(domain_settings) as (app, client):
        yield app, client
