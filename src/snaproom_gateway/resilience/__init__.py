"""Circuit breakers per dependency, the `require(name)` dependency and the 503 they answer with."""

from snaproom_gateway.resilience.breaker import (
    BreakerConfig,
    BreakerOpen,
    CircuitBreaker,
    State,
    StateChange,
)
from snaproom_gateway.resilience.classify import is_infrastructure_error
from snaproom_gateway.resilience.dependency import DependencyUnavailable, Guarded, require
from snaproom_gateway.resilience.registry import BreakerRegistry

__all__ = [
    "BreakerConfig",
    "BreakerOpen",
    "BreakerRegistry",
    "CircuitBreaker",
    "DependencyUnavailable",
    "Guarded",
    "State",
    "StateChange",
    "is_infrastructure_error",
    "require",
]
