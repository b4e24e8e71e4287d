"""Which cache tags each domain event invalidates."""

from types import SimpleNamespace

import pytest

from snaproom_gateway.api.subscriptions import include_domains
from snaproom_gateway.cache import TaggedCache
from snaproom_gateway.cache.invalidation import invalidate_for_event, tags_for_event
from snaproom_gateway.cache.memory import MemoryStore
from snaproom_gateway.core.settings import Settings


@pytest.fixture(autouse=True)
def _domains_included():
    """The rules are the domains' (users, messages, connections), included as the app does."""
    include_domains(Settings(_env_file=None, app_env="testing"))


@pytest.mark.parametrize(("event", "user_id", "data", "tags"), [
    ("user.updated", 7, {"display_name": "x"}, ["user:7", "users:list"]),
    ("user.deleted", 7, {}, ["user:7", "users:list"]),
    ("user.created", 8, {"email": "a@b.c"}, ["users:list"]),
    ("USER_SIGNUP", 8, {}, ["users:list"]),
    ("user.restored", 3, None, ["user:3", "users:list"]),
    ("PROFILE_UPDATED", 3, None, []),  # not an event of the catalog (nor an alias of one)
    ("message.sent", 12, {"from_user_id": 12, "to_user_id": 5, "text": "hi"},
     ["conversation:5:12"]),
    ("message.sent", 5, {"from_user_id": 5, "to_user_id": 12}, ["conversation:5:12"]),
    ("MESSAGE_SENT", 5, {"to_user_id": 12}, ["conversation:5:12"]),
    ("message.sent", 12, {"recipient_id": 5}, ["conversation:5:12"]),
    ("message.sent", 12, {}, []),
    ("connection.accepted", 9, {"from_user_id": 4, "to_user_id": 9},
     ["connections:4", "connections:9"]),
    ("CONNECTION_ACCEPTED", 4, {"to_user_id": 9}, ["connections:4", "connections:9"]),
    ("user.login", 4, {"ip": "1.2.3.4"}, []),
    ("profile.viewed", 4, {}, []),
])
def test_tags_for_event(event, user_id, data, tags):
    assert tags_for_event(event, user_id, data) == tags


async def test_the_handler_invalidates_the_event_tags_on_the_instance_cache():
    cache = TaggedCache(local=MemoryStore(100))
    await cache.cache_user(7, {"id": 7})
    await cache.cache_user(8, {"id": 8})
    envelope = SimpleNamespace(data=SimpleNamespace(event="user.updated", user_id=7, data={}))
    ctx = SimpleNamespace(cache=cache)
    assert await invalidate_for_event(envelope, ctx) == 1
    assert await cache.get_user(7) is None
    assert await cache.get_user(8) is not None
