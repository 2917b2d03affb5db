"""The login throttle, the per-token rate limiter and the token cache, on a fake clock."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.edge.sessions import CACHE_SECONDS, TokenCache
from exchange.edge.throttle import LoginThrottle, RateLimiter


def test_five_failures_lock_a_username_for_fifteen_minutes_from_the_first():
    throttle = LoginThrottle()
    for n in range(5):
        assert throttle.retry_after("alice", f"10.0.0.{n}", 100.0 + n) is None
        throttle.failed("alice", f"10.0.0.{n}", 100.0 + n)
    assert throttle.retry_after("alice", "10.9.9.9", 104.0) == 896  # 900 s after the first
    assert throttle.retry_after("alice", "10.9.9.9", 999.0) == 1
    assert throttle.retry_after("alice", "10.9.9.9", 1000.0) is None
    assert throttle.retry_after("bob", "10.9.9.9", 104.0) is None


def test_a_success_clears_the_usernames_failures():
    throttle = LoginThrottle()
    for _ in range(4):
        throttle.failed("alice", "10.0.0.1", 0.0)
    throttle.succeeded("alice")
    throttle.failed("alice", "10.0.0.1", 1.0)
    assert throttle.retry_after("alice", "10.0.0.2", 2.0) is None


def test_thirty_failures_from_one_address_within_a_minute_lock_it():
    throttle = LoginThrottle()
    for n in range(30):
        throttle.failed(f"user{n}", "10.0.0.1", float(n))
    assert throttle.retry_after("someone", "10.0.0.1", 30.0) == 30
    assert throttle.retry_after("someone", "10.0.0.2", 30.0) is None
    assert throttle.retry_after("someone", "10.0.0.1", 60.0) is None


@settings(max_examples=200, deadline=None)
@given(
    rate=st.floats(0.5, 100),
    burst=st.integers(1, 200),
    gaps=st.lists(st.floats(0, 2), min_size=1, max_size=300),
)
def test_a_token_never_gets_more_than_its_burst_plus_rate_times_time(rate, burst, gaps):
    limiter = RateLimiter(rate, burst)
    now, allowed = 0.0, 0
    for gap in gaps:
        now += gap
        wait = limiter.retry_after("t", now)
        if wait is None:
            allowed += 1
        else:
            assert wait >= 1
        assert allowed <= burst + rate * now + 1e-6


def test_a_refused_request_is_told_when_to_come_back():
    limiter = RateLimiter(rate=2, burst=2)
    assert limiter.retry_after("t", 0.0) is None
    assert limiter.retry_after("t", 0.0) is None
    assert limiter.retry_after("t", 0.0) == 1
    assert limiter.retry_after("t", 0.5) is None
    assert limiter.retry_after("other", 0.5) is None


def test_a_cached_token_dies_at_its_expiry_not_at_the_end_of_its_cache_time():
    clock = [0.0]
    cache = TokenCache(clock=lambda: clock[0])
    cache.put("h", "caller", expires_us=1_000_000)
    assert cache.get("h", at_us=999_999) == "caller"
    assert cache.get("h", at_us=1_000_000) is TokenCache.EXPIRED
    assert cache.get("h", at_us=1_000_000) is None  # gone: the table decides from here


def test_a_cache_entry_is_dropped_at_once_and_ages_out():
    clock = [0.0]
    cache = TokenCache(clock=lambda: clock[0])
    cache.put("h", "caller", expires_us=10**18)
    cache.drop("h")
    assert cache.get("h", at_us=0) is None
    cache.put("h", "caller", expires_us=10**18)
    clock[0] = CACHE_SECONDS
    assert cache.get("h", at_us=0) is None
