"""`/ws/trade`: order entry over one WebSocket, for programs that trade.

After the auth frame (as on the feeds, optionally with `"cancel_on_disconnect": true`),
each `{"type": "place"|"cancel"|"amend"|"cancel_all", "request_id", "data"}` goes
through the same code as its REST route, so the rules, error codes and durability
are the same (an ack means journaled). Requests of one socket are handled
concurrently, up to MAX_IN_FLIGHT at a time, so a client that pipelines them
fills the sequencer's group commits; acks come back in the order they are ready,
matched by `request_id`. A request that depends on another (a cancel of an order
just placed) is sent once the first one's ack has arrived.

The socket counts as one of the token's feeds (closed on logout or expiry), and
every request counts against the token's rate limit, as a REST call does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from types import SimpleNamespace

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from exchange.core import commands
from exchange.edge import sessions
from exchange.edge.api.errors import ApiError
from exchange.edge.api.routes.orders import amend_order, cancel_all, cancel_for, place_for
from exchange.edge.api.schemas import AmendIn, CancelAllIn, OrderIn
from exchange.edge.ws import _auth_ok, _authenticate, _end_expired
from exchange.infra.bus import CommandTimeout
from settlement.accounts import Role

log = logging.getLogger(__name__)
router = APIRouter()
MAX_IN_FLIGHT = 256
MAX_FRAME_CHARS = 8192
MAX_REQUEST_ID_CHARS = 64
REQUEST_TYPES = ("place", "cancel", "amend", "cancel_all")
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


class _Refused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _invalid(exc: ValidationError) -> _Refused:
    # the same code and message as the REST validation handler gives
    first = exc.errors()[0] if exc.errors() else {}
    code = "invalid_input"
    ctx = first.get("ctx") or {}
    if isinstance(ctx.get("error"), ValueError) and getattr(ctx["error"], "code", None):
        code = ctx["error"].code
    where = ".".join(str(p) for p in first.get("loc", ()))
    return _Refused(code, f"{where}: {first.get('msg', 'invalid input')}" if where else "invalid")


def _order_id(data: dict) -> str:
    order_id = data.get("order_id")
    if not isinstance(order_id, str) or not order_id:
        raise _Refused("invalid_input", "data.order_id: give the order's id as a string")
    return order_id


async def _execute(request, caller, type_: str, data: dict) -> dict:
    """What the REST route of `type_` would answer, as the ack's data. `request`
    stands in for the REST handlers' request: they read only its `.app`."""
    try:
        if type_ == "place":
            order = await place_for(
                caller.account_id, OrderIn.model_validate(data), request, SimpleNamespace()
            )
            return {"order": order}
        if type_ == "cancel":
            return {"order": await cancel_for(caller.account_id, _order_id(data), request)}
        if type_ == "amend":
            order_id = _order_id(data)
            body = AmendIn.model_validate({k: v for k, v in data.items() if k != "order_id"})
            return {"order": await amend_order(order_id, body, caller, request)}
        body = CancelAllIn.model_validate(data) if data else None
        return await cancel_all(caller, request, body)
    except ValidationError as exc:
        raise _invalid(exc) from None
    except ApiError as exc:
        raise _Refused(exc.code, exc.message) from None


def _parse(text: str) -> tuple[str | None, str, dict]:
    """(request_id, type, data) of a request frame; raises _Refused(with the id if any)."""
    if len(text) > MAX_FRAME_CHARS:
        raise _Refused("invalid_input", f"a request is at most {MAX_FRAME_CHARS} characters")
    try:
        msg = json.loads(text)
    except (ValueError, RecursionError):
        raise _Refused("invalid_input", "a request is a JSON object") from None
    if not isinstance(msg, dict):
        raise _Refused("invalid_input", "a request is a JSON object")
    request_id = msg.get("request_id")
    if not isinstance(request_id, str) or not 0 < len(request_id) <= MAX_REQUEST_ID_CHARS:
        raise _Refused("invalid_input", "request_id: a string of 1 to 64 characters")
    type_ = msg.get("type")
    if type_ not in REQUEST_TYPES:
        raise _RefusedWithId(
            request_id, "invalid_input", f"type: one of {', '.join(REQUEST_TYPES)}"
        )
    data = msg.get("data", {})
    if not isinstance(data, dict):
        raise _RefusedWithId(request_id, "invalid_input", "data: a JSON object")
    return request_id, type_, data


class _RefusedWithId(_Refused):
    def __init__(self, request_id: str, code: str, message: str) -> None:
        super().__init__(code, message)
        self.request_id = request_id


class _Session:
    def __init__(self, ws: WebSocket, caller) -> None:
        self.ws = ws
        self.caller = caller
        self.app = ws.app
        self.request = SimpleNamespace(app=self.app)
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self.tasks: set[asyncio.Task] = set()

    async def send(self, frame: dict) -> None:
        # No lock: each ASGI send writes one whole frame, so concurrent acks never
        # interleave on the wire.
        with contextlib.suppress(Exception):  # the client may be gone; nothing to tell
            await self.ws.send_text(_encode(frame))

    async def error(self, request_id: str | None, code: str, message: str) -> None:
        error = {"code": code, "message": message}
        await self.send({"type": "error", "data": {"request_id": request_id, "error": error}})

    async def serve(self) -> None:
        while True:
            try:
                message = await self.ws.receive()
            except (WebSocketDisconnect, RuntimeError):  # closed by us (logout, expiry)
                return
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if not isinstance(text, str):
                await self.error(None, "invalid_input", "send requests as JSON text frames")
                continue
            try:
                request_id, type_, data = _parse(text)
            except _Refused as exc:
                await self.error(getattr(exc, "request_id", None), exc.code, exc.message)
                continue
            wait = self.app.state.rate_limiter.retry_after(self.caller.token_hash, time.monotonic())
            if wait is not None:
                await self.error(
                    request_id,
                    "rate_limited",
                    f"请求过于频繁，请 {wait} 秒后再试 (too many requests; retry in {wait} s)",
                )
                continue
            # back-pressure: stop reading while MAX_IN_FLIGHT requests are unanswered
            await self._slots.acquire()
            task = asyncio.create_task(self._answer(request_id, type_, data))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _answer(self, request_id: str, type_: str, data: dict) -> None:
        try:
            result = await _execute(self.request, self.caller, type_, data)
        except _Refused as exc:
            await self.error(request_id, exc.code, exc.message)
        except Exception:
            log.exception("/ws/trade %s failed", type_)
            await self.error(request_id, "internal_error", "the request could not be handled")
        else:
            await self.send({"type": "ack", "data": {"request_id": request_id, **result}})
        finally:
            self._slots.release()

    async def cancel_everything(self) -> None:
        """cancel_on_disconnect: after what is in flight, cancel every open order."""
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
        command = commands.CancelAll(account_id=self.caller.account_id)
        try:
            reply = await self.app.state.commands.submit(command)
        except CommandTimeout:
            log.error("cancel on disconnect of %s timed out", self.caller.account_id)
            return
        if reply.get("error"):
            log.error("cancel on disconnect of %s: %s", self.caller.account_id, reply["error"])


@router.websocket("/ws/trade")
async def trade_socket(ws: WebSocket) -> None:
    options: dict = {}
    caller = await _authenticate(ws, (Role.ENTERPRISE,), options)
    if caller is None:
        return
    cancel_on_disconnect = options.get("cancel_on_disconnect") is True
    feeds: sessions.LiveFeeds = ws.app.state.live_feeds
    if not feeds.add(caller.token_hash, ws):
        await ws.close(code=4429, reason=f"at most {sessions.FEEDS_PER_TOKEN} feeds per session")
        return
    expiry = asyncio.get_running_loop().call_later(
        max(0.0, (caller.expires_us - sessions.now_us()) / 1e6), _end_expired, ws
    )
    session = _Session(ws, caller)
    try:
        await _auth_ok(ws, caller)
        await session.serve()
    finally:
        expiry.cancel()
        feeds.remove(caller.token_hash, ws)
        if cancel_on_disconnect:
            await session.cancel_everything()
        elif session.tasks:
            # unanswered requests still run to their journal commit; only the ack is lost
            await asyncio.gather(*session.tasks, return_exceptions=True)
