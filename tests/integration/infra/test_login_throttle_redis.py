"""The login throttle over Redis: every gateway sees the same failures."""

from __future__ import annotations

import pytest

from exchange.edge.throttle import RedisLoginThrottle

pytestmark = pytest.mark.integration


async def test_failures_on_one_gateway_lock_the_username_on_another(redis_url, redis_prefix):
    one = RedisLoginThrottle(redis_url, redis_prefix)
    other = RedisLoginThrottle(redis_url, redis_prefix)
    try:
        for n in range(5):
            assert await other.retry_after("alice", f"10.0.0.{n}") is None
            await one.failed("alice", f"10.0.0.{n}")
        wait = await other.retry_after("alice", "10.9.9.9")
        assert wait is not None and 890 <= wait <= 900
        assert await other.retry_after("bob", "10.9.9.9") is None
        await other.succeeded("alice")
        assert await one.retry_after("alice", "10.9.9.9") is None
    finally:
        await one.aclose()
        await other.aclose()


async def test_thirty_failures_from_one_address_lock_it_everywhere(redis_url, redis_prefix):
    one = RedisLoginThrottle(redis_url, redis_prefix)
    other = RedisLoginThrottle(redis_url, redis_prefix)
    try:
        for n in range(30):
            await (one if n % 2 else other).failed(f"user{n}", "10.0.0.1")
        wait = await other.retry_after("someone", "10.0.0.1")
        assert wait is not None and 50 <= wait <= 60
        assert await one.retry_after("someone", "10.0.0.2") is None
    finally:
        await one.aclose()
        await other.aclose()
