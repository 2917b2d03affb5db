"""Limits on how fast a client may try: failed logins, requests per token, and the
password hashing that logins cost.

Failed logins are counted in Redis when the service has it (`RedisLoginThrottle`), so
every gateway sees the same counts; without Redis there is one process and the counts
live in it (`LoginThrottle`). The per-token request buckets and the hashing pool are per
gateway process. The in-process classes take the time as an argument, so tests need no
sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

USERNAME_FAILURES = 5
USERNAME_WINDOW_S = 15 * 60
ADDRESS_FAILURES = 30
ADDRESS_WINDOW_S = 60
MAX_TRACKED = 100_000
# half the cores at most: hashing must leave the event loop and the sequencer a core
HASH_THREADS = max(1, (os.cpu_count() or 2) // 2)
HASH_QUEUE = 64


class _Failures:
    """Times of recent failures per key, at most `limit` kept, within `window_s`."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self._times: dict[str, deque[float]] = {}

    def retry_after(self, key: str, now: float) -> float | None:
        times = self._times.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._times[key]
            return None
        if len(times) < self.limit:
            return None
        return times[0] + self.window_s - now

    def add(self, key: str, now: float) -> None:
        if key not in self._times and len(self._times) >= MAX_TRACKED:
            self._prune(now)
        times = self._times.setdefault(key, deque(maxlen=self.limit))
        times.append(now)

    def forget(self, key: str) -> None:
        self._times.pop(key, None)

    def _prune(self, now: float) -> None:
        for key in [k for k, t in self._times.items() if t[-1] <= now - self.window_s]:
            del self._times[key]
        if len(self._times) >= MAX_TRACKED:
            # still full of live entries: forget the oldest half rather than grow
            for key in list(self._times)[: MAX_TRACKED // 2]:
                del self._times[key]


class LoginThrottle:
    """5 failures for one username within 15 minutes, or 30 from one address within a
    minute, and that username or address may not log in until the window passes."""

    def __init__(self) -> None:
        self._users = _Failures(USERNAME_FAILURES, USERNAME_WINDOW_S)
        self._addresses = _Failures(ADDRESS_FAILURES, ADDRESS_WINDOW_S)

    def retry_after(self, username: str, address: str, now: float) -> int | None:
        """Whole seconds to wait, or None if a login may be tried now."""
        waits = [
            w
            for w in (
                self._users.retry_after(username, now),
                self._addresses.retry_after(address, now),
            )
            if w is not None
        ]
        return max(1, math.ceil(max(waits))) if waits else None

    def failed(self, username: str, address: str, now: float) -> None:
        self._users.add(username, now)
        self._addresses.add(address, now)

    def succeeded(self, username: str) -> None:
        self._users.forget(username)


class LocalLoginThrottle:
    """The login throttle of a single process, with the interface the route uses."""

    def __init__(self) -> None:
        self._throttle = LoginThrottle()

    async def retry_after(self, username: str, address: str) -> int | None:
        return self._throttle.retry_after(username, address, time.monotonic())

    async def failed(self, username: str, address: str) -> None:
        self._throttle.failed(username, address, time.monotonic())

    async def succeeded(self, username: str) -> None:
        self._throttle.succeeded(username)

    async def aclose(self) -> None:
        pass


class RedisLoginThrottle:
    """The same rule with the failures kept in Redis, shared by every gateway: per key a
    list of failure times (newest first, at most the limit), expiring with its window."""

    def __init__(self, url: str, prefix: str) -> None:
        import redis.asyncio as aioredis

        self._redis = aioredis.Redis.from_url(url, decode_responses=True)
        self._prefix = prefix
        self._rules = (
            ("user", USERNAME_FAILURES, USERNAME_WINDOW_S),
            ("addr", ADDRESS_FAILURES, ADDRESS_WINDOW_S),
        )

    def _keys(self, username: str, address: str) -> list[str]:
        return [
            f"{self._prefix}:login:user:{username}",
            f"{self._prefix}:login:addr:{address}",
        ]

    async def retry_after(self, username: str, address: str) -> int | None:
        now = time.time()
        pipe = self._redis.pipeline(transaction=False)
        for key in self._keys(username, address):
            pipe.lrange(key, 0, -1)
        waits = []
        for times, (_, limit, window_s) in zip(await pipe.execute(), self._rules, strict=True):
            recent = [float(t) for t in times if float(t) > now - window_s]
            if len(recent) >= limit:
                waits.append(min(recent) + window_s - now)
        return max(1, math.ceil(max(waits))) if waits else None

    async def failed(self, username: str, address: str) -> None:
        now = repr(time.time())
        pipe = self._redis.pipeline(transaction=True)
        for key, (_, limit, window_s) in zip(
            self._keys(username, address), self._rules, strict=True
        ):
            pipe.lpush(key, now)
            pipe.ltrim(key, 0, limit - 1)
            pipe.expire(key, window_s)
        await pipe.execute()

    async def succeeded(self, username: str) -> None:
        await self._redis.delete(self._keys(username, "")[0])

    async def aclose(self) -> None:
        await self._redis.aclose()


def make_login_throttle(settings) -> LocalLoginThrottle | RedisLoginThrottle:
    if settings.redis_url:
        return RedisLoginThrottle(settings.redis_url, settings.redis_prefix)
    return LocalLoginThrottle()


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """A token bucket per key: `rate` requests per second, bursts of `burst`."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, _Bucket] = {}

    def retry_after(self, key: str, now: float) -> int | None:
        """Takes one request's worth; None if allowed, else whole seconds to wait."""
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_TRACKED:
                self._prune(now)
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return None
        return max(1, math.ceil((1 - bucket.tokens) / self.rate))

    def _prune(self, now: float) -> None:
        # a bucket refilled to the brim is the same as no bucket
        full_after = self.burst / self.rate
        for key in [k for k, b in self._buckets.items() if now - b.at >= full_after]:
            del self._buckets[key]
        if len(self._buckets) >= MAX_TRACKED:
            self._buckets.clear()


def _lowest_priority() -> None:
    """Make the calling thread (and the threads Argon2 starts from it) the last to get
    a CPU: on a small machine a login flood then takes only the time orders leave."""
    with contextlib.suppress(AttributeError, OSError):  # not Linux/POSIX: priority as is
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


class HashingBusy(Exception):
    """More password hashing is waiting than the pool takes."""


class HashingPool:
    """Argon2 runs here, on a few threads of its own: never on the default thread pool
    that the database reads and the sequencer use, so a login flood slows logins only.
    At most HASH_QUEUE calls wait or run; beyond that `HashingBusy` at once."""

    def __init__(self, threads: int = HASH_THREADS, queue: int = HASH_QUEUE) -> None:
        self._executor = ThreadPoolExecutor(
            threads, thread_name_prefix="argon2", initializer=_lowest_priority
        )
        self._slots = asyncio.Semaphore(queue)

    async def run(self, fn: Callable[..., T], *args) -> T:
        if self._slots.locked():
            raise HashingBusy
        async with self._slots:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
