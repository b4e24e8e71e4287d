from tests.cache_fixtures import make_cache, stack_settings, uid  # noqa: F401
