"""Admin routes of the platform (cache, events, breakers): admins only."""
