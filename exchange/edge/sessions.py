"""Bearer-token sessions: when they end, and how every gateway learns it at once.

A token ends when it expires (`EMX_TOKEN_TTL_S` after login) or when its owner logs
out (`DELETE /session`). Each gateway keeps resolved tokens in a small cache so a
request costs no database read; an entry is only a shortcut, never an extension:

- every hit is checked against the token's expiry, so a cached token dies on time;
- a logout deletes the token's row, drops the entry here and publishes the token's
  hash on the bus channel `sessions`; every gateway (over Redis, all of them)
  drops its entry and closes that token's live feeds with 4401 when it hears it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

SESSIONS = "sessions"
CACHE_SECONDS = 30
CACHE_MAX_ENTRIES = 100_000
FEEDS_PER_TOKEN = 20


def now_us() -> int:
    return time.time_ns() // 1000


def expiry_us(created_us: int, expires_us: int | None, ttl_s: int) -> int:
    """When a token stops working. Tokens issued before sessions expired have no
    `expires_us`: they end `ttl_s` after they were issued, like new ones."""
    return expires_us if expires_us is not None else created_us + ttl_s * 1_000_000


@dataclass(slots=True)
class _Entry:
    cached_until: float
    caller: object
    expires_us: int


class TokenCache:
    """token hash -> the caller it stands for, for CACHE_SECONDS at most and never past
    the token's expiry (`get` tells an expired token from an unknown one)."""

    EXPIRED = object()

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[str, _Entry] = {}

    def get(self, token_hash: str, at_us: int):
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        if at_us >= entry.expires_us:
            del self._entries[token_hash]
            return self.EXPIRED
        if entry.cached_until <= self._clock():
            del self._entries[token_hash]
            return None
        return entry.caller

    def put(self, token_hash: str, caller: object, expires_us: int) -> None:
        if len(self._entries) >= CACHE_MAX_ENTRIES:
            self._entries.clear()
        self._entries[token_hash] = _Entry(self._clock() + CACHE_SECONDS, caller, expires_us)

    def drop(self, token_hash: str) -> None:
        self._entries.pop(token_hash, None)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


class LiveFeeds:
    """The open feed sockets of each token on this gateway: at most FEEDS_PER_TOKEN,
    and all closed with 4401 when the token is revoked."""

    def __init__(self) -> None:
        self._by_token: dict[str, set] = {}

    def add(self, token_hash: str, ws) -> bool:
        mine = self._by_token.setdefault(token_hash, set())
        if len(mine) >= FEEDS_PER_TOKEN:
            return False
        mine.add(ws)
        return True

    def remove(self, token_hash: str, ws) -> None:
        mine = self._by_token.get(token_hash)
        if mine is not None:
            mine.discard(ws)
            if not mine:
                del self._by_token[token_hash]

    def count(self, token_hash: str) -> int:
        return len(self._by_token.get(token_hash, ()))

    async def close_all(self, token_hash: str, code: int, reason: str) -> None:
        for ws in list(self._by_token.pop(token_hash, ())):
            with contextlib.suppress(Exception):
                await ws.close(code=code, reason=reason)


async def publish_revocation(bus, token_hash: str) -> None:
    await bus.publish(SESSIONS, {"revoked": token_hash})


async def listen_for_revocations(bus, cache: TokenCache, feeds: LiveFeeds) -> None:
    """Runs for the life of the gateway: forget revoked tokens and end their feeds."""
    while True:
        try:
            async with bus.subscribe([SESSIONS]) as subscription:
                async for _channel, msg in subscription:
                    token_hash = msg.get("revoked")
                    if isinstance(token_hash, str):
                        cache.drop(token_hash)
                        await feeds.close_all(token_hash, 4401, "the session has ended")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # a dropped subscription may have missed a revocation: forget every token
            log.warning("revocation listener restarting: %r", exc)
            cache.clear()
            await asyncio.sleep(0.5)
