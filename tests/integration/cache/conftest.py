# make_cache and uid; stack_settings comes from tests/conftest.py
from tests.support.cache_fixtures import make_cache, uid  # noqa: F401
