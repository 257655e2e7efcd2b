"""Domain errors as the API's error bodies: the one place a store failure becomes HTTP."""

from __future__ import annotations

from vokaflow.errors import ServiceUnavailable
from vokaflow.store.errors import StoreUnavailable


def unavailable(exc: StoreUnavailable) -> ServiceUnavailable:
    """The spec's 503, naming the component the store could not reach."""
    return ServiceUnavailable(exc.component, exc.message)
