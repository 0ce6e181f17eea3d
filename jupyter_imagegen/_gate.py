"""A shared pause for every thread of one client after the service says "slow down".

When one request of a batch gets a 429 with ``Retry-After``, its siblings would otherwise keep
hitting the limit and each collect its own 429. The gate makes all of them wait out the same
window, which is what the service asked for.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["RateGate"]


class RateGate:
    """Threads call :meth:`wait` before a request; a rate-limited one calls :meth:`block`."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._not_before = 0.0
        self.blocks = 0

    def block(self, seconds: float) -> None:
        """Hold every request of this client for ``seconds`` from now (extends, never shortens)."""
        with self._lock:
            self._not_before = max(self._not_before, self._clock() + max(seconds, 0.0))
            self.blocks += 1

    def delay(self) -> float:
        """Seconds until requests may go out again (0 when open)."""
        with self._lock:
            return max(0.0, self._not_before - self._clock())

    def wait(self, sleep: Callable[[float], None], cancel: threading.Event | None = None) -> None:
        """Sleep until the gate is open (in short steps, so a cancel is noticed)."""
        while (remaining := self.delay()) > 0:
            if cancel is not None and cancel.is_set():
                return
            sleep(min(remaining, 0.25))
