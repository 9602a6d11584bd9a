"""The sliding-window rate limit: counts, the rolling window, Retry-After, threads, bounded memory."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from planwatch.service_requests.ratelimit import RateLimiter, RateLimitExceededError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_limit_counts_per_key() -> None:
    clock = Clock()
    limiter = RateLimiter(3, window=60, clock=clock)
    assert [limiter.hit("a").allowed for _ in range(4)] == [True, True, True, False]
    assert limiter.hit("b").allowed
    assert limiter.hit("b").remaining == 1


def test_the_window_rolls_and_retry_after_is_when_the_oldest_event_leaves() -> None:
    clock = Clock()
    limiter = RateLimiter(2, window=60, clock=clock)
    limiter.hit("k")
    clock.now += 20
    limiter.hit("k")
    clock.now += 10
    refused = limiter.hit("k")
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(30)
    clock.now += 30
    assert limiter.hit("k").allowed  # the first event left the window
    assert not limiter.hit("k").allowed


def test_check_raises_with_whole_seconds_to_wait() -> None:
    clock = Clock()
    limiter = RateLimiter(1, window=60, clock=clock)
    limiter.check("k")
    clock.now += 0.5
    with pytest.raises(RateLimitExceededError, match=r"at most 1 per minute; try again in 60 s") as caught:
        limiter.check("k")
    assert caught.value.retry_after == 60
    assert caught.value.status_code == 429


def test_refused_attempts_do_not_extend_the_wait() -> None:
    clock = Clock()
    limiter = RateLimiter(1, window=10, clock=clock)
    limiter.hit("k")
    for _ in range(5):
        clock.now += 1
        assert not limiter.hit("k").allowed
    clock.now += 5
    assert limiter.hit("k").allowed


@given(st.lists(st.floats(min_value=0, max_value=5), max_size=60), st.integers(min_value=1, max_value=5))
def test_no_window_ever_holds_more_than_the_limit(steps: list[float], limit: int) -> None:
    clock = Clock()
    limiter = RateLimiter(limit, window=10, clock=clock)
    allowed: list[float] = []
    for step in steps:
        clock.now += step
        if limiter.hit("k").allowed:
            allowed.append(clock.now)
    for t in allowed:
        assert sum(1 for u in allowed if t - 10 < u <= t) <= limit


def test_threads_racing_get_exactly_the_limit() -> None:
    limiter = RateLimiter(50, window=60, clock=Clock())
    results: list[bool] = []
    lock = threading.Lock()

    def hammer() -> None:
        for _ in range(40):
            verdict = limiter.hit("shared")
            with lock:
                results.append(verdict.allowed)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 50


def test_many_distinct_keys_do_not_grow_memory_without_bound() -> None:
    clock = Clock()
    limiter = RateLimiter(1, window=1, clock=clock, max_keys=100)
    for i in range(1000):
        clock.now += 0.01
        limiter.hit(i)
    assert len(limiter._events) <= 100


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="limit >= 1"):
        RateLimiter(0)
