"""The client order ids the core remembers for idempotency, held compactly.

Every order placed is remembered for the idempotency window (a day): with a
million orders a day this map is the core's largest. Each id costs one entry in
its account's dict, the id's own string, and a 48-byte `bytes` value packing the
order id, the time placed and the request hash (the SHA-256 the edge sends as 64
hex digits, kept as its 32 bytes); the expiry queue holds the account and the id
as two plain references, no tuple. Neither the dicts nor the bytes are tracked by
the cyclic collector. What the core exposes (the `(order_id, request_hash)` of a
key, the rows of the canonical state) is exactly what the tuple-based map gave,
so the state hash does not see the packing.

A request hash that is not 64 lowercase hex digits (the demo's, tests') or an
order id or time outside 64 bits is kept as a plain `(order_id, ts_us,
request_hash)` tuple instead: rare, and unpacked the same way.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

_HEAD = 16  # order id and ts_us, 8 bytes each, little-endian, signed
_PACKED = _HEAD + 32
_INT64 = range(-(2**63), 2**63)


def pack(order_id: int, ts_us: int, request_hash: str) -> bytes | tuple[int, int, str]:
    if type(order_id) is int and order_id in _INT64 and ts_us in _INT64 and len(request_hash) == 64:
        try:
            raw = bytes.fromhex(request_hash)
        except ValueError:
            raw = b""
        # fromhex also takes upper case and spaces: only an exact round trip is packed
        if len(raw) == 32 and raw.hex() == request_hash:
            return (
                order_id.to_bytes(8, "little", signed=True)
                + ts_us.to_bytes(8, "little", signed=True)
                + raw
            )
    return (order_id, ts_us, request_hash)


def unpack(value: bytes | tuple[int, int, str]) -> tuple[int, int, str]:
    """(order_id, ts_us, request_hash) of a stored value."""
    if type(value) is bytes:
        return (
            int.from_bytes(value[:8], "little", signed=True),
            int.from_bytes(value[8:_HEAD], "little", signed=True),
            value[_HEAD:].hex(),
        )
    return value


def _ts_us(value: bytes | tuple[int, int, str]) -> int:
    if type(value) is bytes:
        return int.from_bytes(value[8:_HEAD], "little", signed=True)
    return value[1]


class ClientOrderIds:
    """(account_id, client_order_id) -> (order_id, request_hash), with the time each
    was placed. With a `window_us` (set by a genesis that records one) `forget_expired`
    drops the ids placed longer ago than that, oldest first; without one (older
    journals) they are remembered for ever."""

    __slots__ = ("_by_account", "_count", "_expiry", "window_us")

    def __init__(self, window_us: int | None = None) -> None:
        self._by_account: dict[str, dict[str, bytes | tuple[int, int, str]]] = {}
        # account id, client order id, account id, ... in the order they were added
        # (kept only when ids expire: journals without a window remember them for ever)
        self._expiry: deque[str] = deque()
        self._count = 0
        self.window_us = window_us

    @property
    def expires(self) -> bool:
        return self.window_us is not None

    def __len__(self) -> int:
        return self._count

    def __contains__(self, key: tuple[str, str]) -> bool:
        ids = self._by_account.get(key[0])
        return ids is not None and key[1] in ids

    def __iter__(self) -> Iterator[tuple[str, str]]:
        for account_id, ids in self._by_account.items():
            for client_order_id in ids:
                yield (account_id, client_order_id)

    def get(self, account_id: str, client_order_id: str) -> tuple[int, str] | None:
        """(order_id, request_hash) of a remembered id, or None."""
        ids = self._by_account.get(account_id)
        value = None if ids is None else ids.get(client_order_id)
        if value is None:
            return None
        order_id, _ts_us, request_hash = unpack(value)
        return order_id, request_hash

    def add(
        self, account_id: str, client_order_id: str, order_id: int, request_hash: str, ts_us: int
    ) -> None:
        ids = self._by_account.get(account_id)
        if ids is None:
            ids = self._by_account[account_id] = {}
        if client_order_id not in ids:
            self._count += 1
            if self.window_us is not None:
                self._expiry.append(account_id)
                self._expiry.append(client_order_id)
        ids[client_order_id] = pack(order_id, ts_us, request_hash)

    def forget_expired(self, now_us: int) -> None:
        """Forget the ids placed more than the window before `now_us`."""
        if self.window_us is None:
            return
        before_us = now_us - self.window_us
        expiry = self._expiry
        by_account = self._by_account
        while expiry:
            ids = by_account[expiry[0]]
            if _ts_us(ids[expiry[1]]) >= before_us:
                return
            account_id = expiry.popleft()
            del ids[expiry.popleft()]
            self._count -= 1
            if not ids:
                del by_account[account_id]

    def placed_at(self) -> dict[tuple[str, str], int]:
        """The time each remembered id was placed (for checks, not the hot path)."""
        return {(a, c): _ts_us(v) for a, ids in self._by_account.items() for c, v in ids.items()}

    def rows(self) -> list[list]:
        """[account_id, client_order_id, order_id, request_hash, ts_us], sorted: the
        canonical state's rows (without the time for journals whose ids never expire)."""
        width = 5 if self.window_us is not None else 4
        rows = [
            [a, c, *_order_and_hash(v)][:width]
            for a, ids in self._by_account.items()
            for c, v in ids.items()
        ]
        rows.sort()
        return rows

    # ----------------------------------------------------------- plain snapshots
    def plain_state(self) -> dict:
        """Plain data for a pickled snapshot: dicts, str, int, bytes, tuples."""
        return {
            "by_account": self._by_account,
            "expiry": list(self._expiry),
            "count": self._count,
            "window_us": self.window_us,
        }

    @classmethod
    def restore_plain(cls, state: dict) -> ClientOrderIds:
        ids = cls(state["window_us"])
        ids._by_account = state["by_account"]
        ids._expiry = deque(state["expiry"])
        ids._count = state["count"]
        return ids

    @classmethod
    def from_rows(cls, rows, window_us: int | None) -> ClientOrderIds:
        """From [account_id, client_order_id, order_id, request_hash(, ts_us)] rows in
        any order; they expire oldest first (ties by key, as the tuple map did)."""
        ids = cls(window_us)
        if ids.expires:
            rows = sorted(rows, key=lambda r: (r[4], r[0], r[1]))
        for row in rows:
            ids.add(row[0], row[1], row[2], row[3], row[4] if ids.expires else 0)
        return ids


def _order_and_hash(value: bytes | tuple[int, int, str]) -> tuple:
    order_id, ts_us, request_hash = unpack(value)
    return order_id, request_hash, ts_us
