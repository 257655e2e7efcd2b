"""The store's own errors: what a caller may catch without knowing Redis is behind it.

The API maps StoreUnavailable to the spec's 503 body (vokaflow.api.errors); the scheduler and
the webhook dispatcher wait and retry on it.
"""

from __future__ import annotations

from vokaflow.errors import VokaFlowError


class StoreUnavailable(VokaFlowError):
    """The store cannot be reached now; the same call may succeed later."""

    def __init__(self, component: str, message: str) -> None:
        super().__init__(message)
        self.component = component
        self.message = message
