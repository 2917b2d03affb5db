"""WebSocket feeds: /ws/market (public), /ws/private (enterprise), /ws/regulator (province;
a city bureau gets its city's channel only).

Every message is `{"type", "seq", "symbol"?, "data"}` where `seq` counts 1, 2, 3...
per connection without gaps. The feed subscribes to the bus BEFORE it reads the
book snapshot, then drops bus messages the snapshot already contains (core seq
not after the snapshot's), so nothing falls between snapshot and deltas.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketState

from exchange.core.feeds import MARKET, PRIVATE, REGULATOR, REGULATOR_CITY
from exchange.edge import sessions
from exchange.edge.api.deps import SessionEnded, caller_for_token
from exchange.edge.api.routes.market import book_snapshot
from settlement.accounts import Role

log = logging.getLogger(__name__)
router = APIRouter()
AUTH_TIMEOUT_S = 5.0
# an auth frame is a short JSON object; anything longer is not one
MAX_AUTH_FRAME_CHARS = 4096
MAX_TOKEN_CHARS = 512
MAX_SYMBOLS = 20
SNAPSHOT_DEPTH = 50


class _Feed:
    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self.seq = 0

    async def send(self, type_: str, data: dict, symbol: str | None = None) -> None:
        await self.send_parts(_parts(type_, _encode(data), symbol))

    async def send_parts(self, parts: tuple[str, str]) -> None:
        # Only `seq` differs between subscribers: the rest of the frame is encoded once
        # per message (see _frame_parts) and this splices the counter in, so a trade
        # fanned out to a thousand sockets costs one encoding, not a thousand.
        self.seq += 1
        await self.ws.send_text(f"{parts[0]}{self.seq}{parts[1]}")


def _encode(value) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _parts(type_: str, data_json: str, symbol: str | None) -> tuple[str, str]:
    """A frame `{"type", "seq", "symbol"?, "data"}` without its seq: (before, after)."""
    sym = "" if symbol is None else f',"symbol":{_encode(symbol)}'
    return f'{{"type":{_encode(type_)},"seq":', sym + ',"data":' + data_json + "}"


# The frame parts of recent bus messages, by identity. A bus hands the same message
# object to every local subscriber, so the first one to send it encodes it and the
# others reuse the parts; each entry keeps its message alive, so an id is never reused
# while it is cached. Bounded: a subscriber far behind encodes again, nothing more.
_FRAMES: dict[int, tuple[dict, tuple[str, str]]] = {}
FRAME_CACHE_SIZE = 4096


def _frame_parts(msg: dict) -> tuple[str, str]:
    hit = _FRAMES.get(id(msg))
    if hit is not None and hit[0] is msg:
        return hit[1]
    parts = _parts(msg["type"], _encode(msg["data"]), msg.get("symbol"))
    if len(_FRAMES) >= FRAME_CACHE_SIZE:
        del _FRAMES[next(iter(_FRAMES))]
    _FRAMES[id(msg)] = (msg, parts)
    return parts


async def _pump(feed: _Feed, subscription, after_seq: dict[str, int] | None = None) -> None:
    while batch := await subscription.take():
        if after_seq is not None:
            batch = [(c, m) for c, m in batch if m["core_seq"] > after_seq.get(m.get("symbol"), 0)]
        for i, (_channel, msg) in enumerate(batch):
            if i == 1:
                # One turn of the loop between a batch's first message (a trade comes
                # first) and the rest: every subscriber then gets the first before any
                # of them sends the rest, so the last one waits for a thousand sends of
                # the trade rather than for three thousand.
                await asyncio.sleep(0)
            await feed.send_parts(_frame_parts(msg))


async def _watch_client(ws: WebSocket) -> None:
    """Read and discard what the client sends, so a close is noticed."""
    while True:
        await ws.receive_text()


async def _serve(ws: WebSocket, feed: _Feed, subscription, after_seq=None) -> None:
    pump = asyncio.create_task(_pump(feed, subscription, after_seq))
    watch = asyncio.create_task(_watch_client(ws))
    clients = ws.app.state.metrics.feed_clients
    clients.inc()
    try:
        done, _ = await asyncio.wait({pump, watch}, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            exc = task.exception()
            if exc and not isinstance(exc, WebSocketDisconnect):
                log.info("feed ended: %r", exc)
    finally:
        clients.dec()
        for task in (pump, watch):
            task.cancel()
        await subscription.close()
        if ws.application_state != WebSocketState.DISCONNECTED:
            with contextlib.suppress(Exception):
                await ws.close()


@router.websocket("/ws/market")
async def market_feed(ws: WebSocket) -> None:
    app = ws.app
    raw = ws.query_params.get("symbols", "")
    symbols = [s for s in dict.fromkeys(x.strip() for x in raw.split(",")) if s][:MAX_SYMBOLS]
    await ws.accept()
    if not symbols:
        await ws.close(code=4400, reason="give ?symbols=NOX-2025,...")
        return
    subscription = app.state.bus.subscribe([MARKET + s for s in symbols])
    await subscription.start()
    feed = _Feed(ws)
    after: dict[str, int] = {}

    def snapshots() -> list[dict]:
        out = []
        with app.state.db.connect() as conn, conn.begin():
            for symbol in symbols:
                out.append(book_snapshot(conn, symbol, SNAPSHOT_DEPTH))
        return out

    try:
        books = await asyncio.to_thread(snapshots)
    except Exception:
        await subscription.close()
        await ws.close(code=4404, reason="unknown symbol")
        return
    for book in books:
        after[book["symbol"]] = book["seq"]
        await feed.send(
            "book",
            {"snapshot": True, "book_seq": book["seq"], "bids": book["bids"], "asks": book["asks"]},
            book["symbol"],
        )
    await _serve(ws, feed, subscription, after)


def _auth_token(message: dict) -> str | None:
    """The token of a well-formed auth frame; None for anything else: a binary frame,
    text that is not JSON or is nested too deep, a token that is not a string."""
    text = message.get("text")
    if message.get("type") != "websocket.receive" or not isinstance(text, str):
        return None
    if len(text) > MAX_AUTH_FRAME_CHARS:
        return None
    try:
        msg = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(msg, dict) or msg.get("type") != "auth":
        return None
    token = msg.get("token")
    if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_CHARS:
        return None
    return token


async def _authenticate(ws: WebSocket, roles: tuple[str, ...], options: dict | None = None):
    """The caller of a valid auth frame, or None once the socket is closed; `options`,
    if given, receives the frame's other keys."""
    await ws.accept()
    try:
        message = await asyncio.wait_for(ws.receive(), AUTH_TIMEOUT_S)
    except TimeoutError:
        message = {}
    if message.get("type") == "websocket.disconnect":
        return None
    token = _auth_token(message)
    if token and options is not None:
        options.update(json.loads(message["text"]))
    try:
        caller = await asyncio.to_thread(caller_for_token, ws.app, token) if token else None
    except SessionEnded:
        caller = None
    if caller is None:
        await ws.close(code=4401, reason="authenticate with {type: auth, token} first")
        return None
    if caller.role not in roles:
        await ws.close(code=4403, reason="this feed is not for your role")
        return None
    return caller


async def _auth_ok(ws: WebSocket, caller) -> None:
    # sent only once the subscription is live, so nothing after it can be missed
    data = {"account_id": caller.account_id, "role": caller.role}
    await ws.send_text(json.dumps({"type": "auth_ok", "seq": 0, "data": data}))


async def _serve_session(ws: WebSocket, caller, channels: list[str]) -> None:
    """A private feed lives no longer than its session: at most FEEDS_PER_TOKEN per
    token, closed with 4401 when the token expires or is revoked (LiveFeeds)."""
    feeds: sessions.LiveFeeds = ws.app.state.live_feeds
    if not feeds.add(caller.token_hash, ws):
        await ws.close(code=4429, reason=f"at most {sessions.FEEDS_PER_TOKEN} feeds per session")
        return
    expiry = asyncio.get_running_loop().call_later(
        max(0.0, (caller.expires_us - sessions.now_us()) / 1e6), _end_expired, ws
    )
    try:
        subscription = ws.app.state.bus.subscribe(channels)
        await subscription.start()
        await _auth_ok(ws, caller)
        await _serve(ws, _Feed(ws), subscription)
    finally:
        expiry.cancel()
        feeds.remove(caller.token_hash, ws)


_closing: set[asyncio.Task] = set()


def _end_expired(ws: WebSocket) -> None:
    async def close() -> None:
        with contextlib.suppress(Exception):
            await ws.close(code=4401, reason="the session has expired")

    # the loop keeps only a weak reference to a task: hold it until it is done
    task = asyncio.get_running_loop().create_task(close())
    _closing.add(task)
    task.add_done_callback(_closing.discard)


@router.websocket("/ws/private")
async def private_feed(ws: WebSocket) -> None:
    caller = await _authenticate(ws, (Role.ENTERPRISE,))
    if caller is None:
        return
    await _serve_session(ws, caller, [PRIVATE + caller.account_id])


@router.websocket("/ws/regulator")
async def regulator_feed(ws: WebSocket) -> None:
    caller = await _authenticate(ws, (Role.PROVINCE, Role.CITY_BUREAU))
    if caller is None:
        return
    channel = REGULATOR if caller.role == Role.PROVINCE else REGULATOR_CITY + caller.city_code
    await _serve_session(ws, caller, [channel])
