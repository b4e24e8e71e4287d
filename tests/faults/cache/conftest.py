# make_cache and uid; stack and stack_settings come from tests/conftest.py
from tests.support.cache_fixtures import make_cache, uid  # noqa: F401
