"""A sliding-window rate limit kept in the process: at most ``limit`` events per ``window`` seconds
per key (an Open311 client, a web form's source address).

One process serves the app, so an in-process window is exact; it is thread-safe because sync
routes run in a thread pool. The clock is injectable so tests move time instead of sleeping.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from planwatch.errors import PlanwatchError

__all__ = ["RateLimitExceededError", "RateLimiter", "Verdict"]


class RateLimitExceededError(PlanwatchError):
    """Too many requests from one client; ``retry_after`` is the whole seconds until the next one
    is allowed (the HTTP ``Retry-After`` header)."""

    status_code = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Verdict:
    """The answer for one event: allowed or not, how many remain in the window, and how long to
    wait when refused."""

    allowed: bool
    remaining: int
    retry_after: float
    """Seconds until the oldest event in the window leaves it (0 when allowed)."""


class RateLimiter:
    """At most ``limit`` events per rolling ``window`` seconds for each key.

    Parameters
    ----------
    limit
        Events allowed per window and key.
    window
        The window length in seconds (60 for "per minute").
    clock
        Seconds as a float, monotonic; ``time.monotonic`` unless a test injects its own.
    max_keys
        Keys kept at most; when more are seen, keys whose window is empty are dropped first
        (so a flood of distinct keys cannot grow memory without bound).

    Examples
    --------
    >>> t = [0.0]
    >>> limiter = RateLimiter(2, window=60, clock=lambda: t[0])
    >>> [limiter.hit("k").allowed for _ in range(3)]
    [True, True, False]
    >>> t[0] = 60.0
    >>> limiter.hit("k").allowed
    True
    """

    def __init__(
        self,
        limit: int,
        *,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        if limit < 1 or window <= 0:
            msg = f"a rate limit needs limit >= 1 and window > 0, got limit={limit}, window={window}"
            raise ValueError(msg)
        self.limit = limit
        self.window = window
        self.clock = clock
        self.max_keys = max_keys
        self._events: dict[Hashable, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: Hashable) -> Verdict:
        """Count one event for ``key`` if the window has room; a refused event is not counted
        (a client that keeps retrying too early does not push its own window further out)."""
        with self._lock:
            now = self.clock()
            events = self._events.get(key)
            if events is None:
                if len(self._events) >= self.max_keys:
                    self._prune(now)
                events = self._events[key] = deque()
            while events and events[0] <= now - self.window:
                events.popleft()
            if len(events) >= self.limit:
                return Verdict(False, 0, max(0.0, events[0] + self.window - now))
            events.append(now)
            return Verdict(True, self.limit - len(events), 0.0)

    def check(self, key: Hashable, *, what: str = "requests") -> None:
        """Count one event, or raise ``RateLimitExceededError`` saying how long to wait."""
        verdict = self.hit(key)
        if verdict.allowed:
            return
        wait = max(1, math.ceil(verdict.retry_after))
        per = f"{self.window:g} seconds" if self.window != 60 else "minute"
        msg = (
            f"too many {what}: at most {self.limit} per {per}; try again in {wait} s "
            f"(请求过于频繁,请 {wait} 秒后重试)"
        )
        raise RateLimitExceededError(msg, retry_after=wait)

    def _prune(self, now: float) -> None:
        stale = [key for key, events in self._events.items() if not events or events[-1] <= now - self.window]
        for key in stale:
            del self._events[key]
        if len(self._events) >= self.max_keys:
            # every key is active: drop the one whose latest event is oldest
            oldest = min(self._events, key=lambda k: self._events[k][-1])
            del self._events[oldest]
