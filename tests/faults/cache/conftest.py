from tests.cache_fixtures import make_cache, stack_settings, uid  # noqa: F401
from tests.servers import pytest_configure, stack, stack_env  # noqa: F401
