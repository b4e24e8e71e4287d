# Fixtures of the event-backbone tests (a clean outbox on the real PostgreSQL, effect recorders).
from tests.support.events_support import clean_db, recorder  # noqa: F401
