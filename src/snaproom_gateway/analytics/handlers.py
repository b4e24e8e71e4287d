"""The analytics domain's step of the user deletion saga (views are counted in process, so it
subscribes to no event)."""

from __future__ import annotations

from snaproom_gateway.analytics.service import purge_profile_views

purge_steps = {"profile_views": purge_profile_views}
