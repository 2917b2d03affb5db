"""How the core talks to the rest: an event bus out, a command queue in.

Embedded, both live in this process (asyncio). In production, gateways in
other processes reach the one core through Redis: commands over a list,
replies over a per-gateway list, events over pub/sub (live) plus a capped
stream per channel (replayable). Messages are JSON-able dicts throughout;
receivers must treat them as read-only, since the in-process versions hand
the same object to every subscriber.

The in-process versions must be used from a single event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
import uuid
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

from exchange.core.command_codec import from_payload, to_payload
from exchange.core.commands import Command, MalformedCommand

log = logging.getLogger(__name__)

Message = dict[str, Any]
DEFAULT_SUBSCRIBER_QUEUE = 4096
STREAM_MAXLEN = 100_000


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


class SubscriberDropped(RuntimeError):
    """This subscriber fell too far behind (or lost its connection) and was cut off.

    It has missed messages: it should resynchronise from a snapshot.
    """


class CommandTimeout(TimeoutError):
    """No reply from the core in time. The command may still be applied later."""


# --- event bus -------------------------------------------------------------------------------

_CLOSED = object()
_DROPPED = object()


class Subscription:
    """Messages of some channels, in publication order, as (channel, message) pairs.

    Use as `async with bus.subscribe([...]) as sub: async for channel, msg in sub`,
    or `await sub.take()` for everything queued at once. Reading raises
    SubscriberDropped if the subscriber was cut off. One task reads a subscription.
    """

    def __init__(self, bus: _FanOutBus, channels: Iterable[str], max_queue: int) -> None:
        self.channels = frozenset(channels)
        self.dropped = False
        self._bus = bus
        # A deque and one waiting future rather than an asyncio.Queue: a trade fanned
        # out to a thousand subscribers is a thousand of these appends, each of which
        # Queue.put_nowait made several times dearer.
        self._items: deque[Any] = deque()
        self._max_queue = max_queue
        self._waiter: asyncio.Future | None = None
        self._state = "new"

    async def start(self) -> None:
        """Register; every message published after this returns is delivered."""
        if self._state == "new":
            self._state = "open"
            await self._bus._attach(self)

    async def close(self) -> None:
        if self._state == "open":
            self._state = "closed"
            await self._bus._detach(self)
            self._push(_CLOSED)
        self._state = "closed"

    aclose = close

    async def __aenter__(self) -> Subscription:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> tuple[str, Message]:
        if self._state == "new":
            await self.start()
        if self._state == "closed" and not self._items:
            raise StopAsyncIteration
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        item = self._items[0]
        if item is _DROPPED:  # left in place: every later read fails the same way
            raise SubscriberDropped(f"subscriber to {sorted(self.channels)} was dropped")
        self._items.popleft()
        if item is _CLOSED:
            raise StopAsyncIteration
        return item

    async def take(self, max_n: int = 512) -> list[tuple[str, Message]]:
        """Wait for the next message, then take up to `max_n` in all of those already
        queued: a reader that handles them in a loop wakes once per published batch,
        not once per message. [] once closed; raises SubscriberDropped if cut off."""
        try:
            items = [await self.__anext__()]
        except StopAsyncIteration:
            return []
        queued = self._items
        # a marker is alone in the queue (see _push), so none is taken here
        while queued and len(items) < max_n and type(queued[0]) is tuple:
            items.append(queued.popleft())
        return items

    def queued(self) -> int:
        return len(self._items)

    def _offer(self, item: tuple[str, Message]) -> bool:
        if len(self._items) >= self._max_queue:
            return False
        self._items.append(item)
        self._wake()
        return True

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _cut_off(self) -> None:
        self.dropped = True
        self._state = "closed"
        self._push(_DROPPED)

    def _push(self, marker: object) -> None:
        # Whatever is still queued is of no use once the subscriber is closed or cut off.
        self._items.clear()
        self._items.append(marker)
        self._wake()


class EventBus(ABC):
    @abstractmethod
    async def publish_many(self, messages: Sequence[tuple[str, Message]]) -> None:
        """Publish (channel, message) pairs, in this order."""

    @abstractmethod
    def subscribe(self, channels: Iterable[str]) -> Subscription: ...

    @abstractmethod
    async def history(
        self, channel: str, after: str | None = None, count: int = 1000
    ) -> list[tuple[str, Message]]:
        """Retained messages of a channel as (id, message), oldest first, ids after `after`."""

    async def publish(self, channel: str, message: Message) -> None:
        await self.publish_many([(channel, message)])

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Check the connection at start-up rather than at the first message."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        pass

    async def close(self) -> None:
        await self.aclose()


class _FanOutBus(EventBus):
    """Delivers to local subscribers, each through its own bounded queue.

    Delivery never waits: a subscriber whose queue is full is cut off
    (SubscriberDropped) instead of slowing the core down or growing without bound.
    A WebSocket client that cannot keep up reconnects and starts from a snapshot.
    """

    def __init__(self, max_queue: int = DEFAULT_SUBSCRIBER_QUEUE) -> None:
        self._max_queue = max_queue
        self._subscribers: dict[str, set[Subscription]] = {}

    def subscribe(self, channels: Iterable[str]) -> Subscription:
        return Subscription(self, channels, self._max_queue)

    def subscriber_count(self, channel: str) -> int:
        return len(self._subscribers.get(channel, ()))

    def backlog(self) -> int:
        """Messages waiting in the fullest subscriber's queue (0 with none)."""
        return max(
            (sub.queued() for subs in self._subscribers.values() for sub in subs),
            default=0,
        )

    async def _attach(self, sub: Subscription) -> None:
        for channel in sub.channels:
            self._subscribers.setdefault(channel, set()).add(sub)

    async def _detach(self, sub: Subscription) -> list[str]:
        """Unregister; returns the channels nobody listens to any more."""
        emptied = []
        for channel in sub.channels:
            subs = self._subscribers.get(channel)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subscribers[channel]
                    emptied.append(channel)
        return emptied

    def _deliver(self, channel: str, message: Message) -> None:
        subs = self._subscribers.get(channel)
        if not subs:
            return
        item = (channel, message)  # one tuple for every subscriber
        slow = [sub for sub in subs if not sub._offer(item)]
        for sub in slow:
            log.warning("dropping a slow subscriber to %s", sorted(sub.channels))
            self._cut_off(sub)

    def _cut_off(self, sub: Subscription) -> None:
        for channel in sub.channels:
            subs = self._subscribers.get(channel)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subscribers[channel]
        sub._cut_off()


class InProcessBus(_FanOutBus):
    """Retains the last `history_len` messages of all channels together, not so many per
    channel: every account has a private channel, so a per-channel history grew with
    the number of accounts that ever traded (a thousand order views each, about 1 MB)."""

    def __init__(self, max_queue: int = DEFAULT_SUBSCRIBER_QUEUE, history_len: int = 2_000) -> None:
        super().__init__(max_queue)
        self._history: deque[tuple[int, str, Message]] = deque(maxlen=history_len)
        self._ids = itertools.count(1)

    async def publish_many(self, messages: Sequence[tuple[str, Message]]) -> None:
        retain = self._history.append
        for channel, message in messages:
            retain((next(self._ids), channel, message))
            self._deliver(channel, message)

    async def history(
        self, channel: str, after: str | None = None, count: int = 1000
    ) -> list[tuple[str, Message]]:
        floor = int(after) if after else 0
        found = [(str(i), m) for i, c, m in self._history if c == channel and i > floor]
        return found[:count]


# KEYS: a stream and a pub/sub channel per message; ARGV: the streams' MAXLEN, then the
# messages. Each goes to its stream (the same entry as an XADD of its own) and then out live.
_PUBLISH_LUA = """
local maxlen = ARGV[1]
for i = 2, #ARGV do
  redis.call('XADD', KEYS[2 * i - 3], 'MAXLEN', '~', maxlen, '*', 'd', ARGV[i])
  redis.call('PUBLISH', KEYS[2 * i - 2], ARGV[i])
end
return #ARGV - 1
"""


class RedisBus(_FanOutBus):
    """Redis pub/sub for live fan-out across processes, a capped stream per channel for replay.

    Each process holds ONE pub/sub connection, subscribed to the union of its local
    subscribers' channels, and fans out locally: a gateway with ten thousand
    WebSocket clients still uses one Redis connection for them.
    """

    def __init__(
        self,
        url: str,
        prefix: str = "emx",
        max_queue: int = DEFAULT_SUBSCRIBER_QUEUE,
        stream_maxlen: int = STREAM_MAXLEN,
    ) -> None:
        import redis.asyncio as aioredis

        super().__init__(max_queue)
        self._redis = aioredis.Redis.from_url(url, decode_responses=True)
        self._prefix = prefix
        self._stream_maxlen = stream_maxlen
        self._pubsub: Any = None
        self._reader: asyncio.Task | None = None
        self._confirmations: dict[str, asyncio.Future] = {}
        self._lock = asyncio.Lock()
        self._closing = False
        # EVALSHA, loading the script again if Redis lost it (a restart)
        self._publish_script = self._redis.register_script(_PUBLISH_LUA)

    async def start(self) -> None:
        await self._redis.ping()

    def _live(self, channel: str) -> str:
        return f"{self._prefix}:ev:{channel}"

    def _stream(self, channel: str) -> str:
        return f"{self._prefix}:stream:{channel}"

    async def publish_many(self, messages: Sequence[tuple[str, Message]]) -> None:
        if not messages:
            return
        # One command per batch, not an XADD and a PUBLISH per message: the client's
        # work (packing each command, parsing each answer) cost more than the rest of
        # publishing. The script runs them in order, and nothing runs in between.
        keys: list[str] = []
        data: list[str] = [str(self._stream_maxlen)]
        for channel, message in messages:
            keys.append(self._stream(channel))
            keys.append(self._live(channel))
            data.append(_dumps(message))
        await self._publish_script(keys=keys, args=data)

    async def history(
        self, channel: str, after: str | None = None, count: int = 1000
    ) -> list[tuple[str, Message]]:
        start = f"({after}" if after else "-"
        entries = await self._redis.xrange(self._stream(channel), min=start, count=count)
        return [(entry_id, json.loads(fields["d"])) for entry_id, fields in entries]

    async def _attach(self, sub: Subscription) -> None:
        async with self._lock:
            new = [c for c in sub.channels if not self.subscriber_count(c)]
            await super()._attach(sub)
            if not new:
                return
            if self._pubsub is None:
                self._pubsub = self._redis.pubsub()
            loop = asyncio.get_running_loop()
            waiting = []
            for channel in new:
                fut = self._confirmations.get(channel)
                if fut is None:
                    fut = self._confirmations[channel] = loop.create_future()
                waiting.append(fut)
            await self._pubsub.subscribe(*(self._live(c) for c in new))
            if self._reader is None:
                self._reader = asyncio.create_task(self._read(self._pubsub))
            # Only once Redis confirms is a later PUBLISH sure to reach us.
            await asyncio.wait_for(asyncio.gather(*waiting), timeout=10)

    async def _detach(self, sub: Subscription) -> list[str]:
        async with self._lock:
            emptied = await super()._detach(sub)
            if emptied and self._pubsub is not None:
                await self._pubsub.unsubscribe(*(self._live(c) for c in emptied))
            return emptied

    async def _read(self, pubsub: Any) -> None:
        skip = len(self._prefix) + len(":ev:")
        try:
            # ends on the closing flag too: a cancellation the client loses must not
            # keep this loop (and `aclose`, which waits for it) running for ever
            while not self._closing:
                msg = await pubsub.get_message(timeout=1.0)
                if msg is None:
                    continue
                channel = msg["channel"][skip:]
                if msg["type"] == "message":
                    self._deliver(channel, json.loads(msg["data"]))
                elif msg["type"] == "subscribe":
                    fut = self._confirmations.pop(channel, None)
                    if fut is not None and not fut.done():
                        fut.set_result(None)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Messages may have been lost: everyone resynchronises rather than miss them quietly.
            log.exception("Redis event reader failed; dropping all subscribers")
            self._reset(pubsub)
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    def _reset(self, pubsub: Any) -> None:
        if self._pubsub is pubsub:
            self._pubsub = None
            self._reader = None
        for fut in self._confirmations.values():
            if not fut.done():
                fut.set_exception(ConnectionError("Redis pub/sub connection lost"))
        self._confirmations.clear()
        for sub in {s for subs in self._subscribers.values() for s in subs}:
            self._cut_off(sub)

    async def aclose(self) -> None:
        self._closing = True
        if self._reader is not None:
            self._reader.cancel()
            # bounded: the flag ends the loop within one read (of at most 1 s) anyway
            await asyncio.wait({self._reader}, timeout=_SOCKET_TIMEOUT_S)
            if not self._reader.done():
                log.error("the Redis event reader did not stop")
            self._reader = None
        for sub in {s for subs in self._subscribers.values() for s in subs}:
            await sub.close()
        if self._pubsub is not None:
            await self._pubsub.aclose()
            self._pubsub = None
        await self._redis.aclose()


# --- command queue ---------------------------------------------------------------------------


class CommandQueue(ABC):
    """Gateways submit commands and wait for the core's reply; the one core drains batches."""

    @abstractmethod
    async def submit(self, command: Command, timeout: float | None = None) -> Message:
        """Send a command and wait for its result. Raises CommandTimeout."""

    @abstractmethod
    async def next_batch(
        self, max_n: int, timeout: float | None = 1.0
    ) -> list[tuple[Any, Command]]:
        """Wait for at least one command (or `timeout` seconds, then []), take up to `max_n`.

        `timeout=None` waits for ever; the default returns now and then so that a
        loop can notice it was asked to stop.

        Returns (reply handle, command) pairs in arrival order.
        """

    @abstractmethod
    async def reply_many(self, replies: Sequence[tuple[Any, Message]]) -> None: ...

    @abstractmethod
    async def pending(self) -> int:
        """Commands waiting for the core (queue depth, for monitoring)."""

    async def reply(self, handle: Any, result: Message) -> None:
        await self.reply_many([(handle, result)])

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Check the connection at start-up rather than at the first command."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        pass

    async def close(self) -> None:
        await self.aclose()


class InProcessCommandQueue(CommandQueue):
    def __init__(self, max_pending: int = 100_000, default_timeout: float = 10.0) -> None:
        self._queue: asyncio.Queue[tuple[asyncio.Future, Command]] = asyncio.Queue(max_pending)
        self._default_timeout = default_timeout

    async def submit(self, command: Command, timeout: float | None = None) -> Message:
        future = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(timeout or self._default_timeout):
                await self._queue.put((future, command))
                return await future
        except TimeoutError:
            raise CommandTimeout("the core did not answer in time") from None

    async def next_batch(
        self, max_n: int, timeout: float | None = 1.0
    ) -> list[tuple[Any, Command]]:
        try:
            first = await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return []
        batch = [first]
        while len(batch) < max_n and not self._queue.empty():
            batch.append(self._queue.get_nowait())
        # A submitter that timed out was told its command failed: never apply it later.
        return [(future, command) for future, command in batch if not future.done()]

    async def pending(self) -> int:
        return self._queue.qsize()

    def ready(self) -> bool:
        """Whether a command waits now (the sequencer then starts its commit before
        answering the last batch); a queue without this answers every batch at once."""
        return not self._queue.empty()

    async def reply_many(self, replies: Sequence[tuple[Any, Message]]) -> None:
        for future, result in replies:
            if not future.done():  # the gateway may have given up waiting
                future.set_result(result)


# The longest a blocking pop waits at the server, and the longest any Redis read may
# take (a blocking pop included) before the client gives up on the connection.
_BLOCK_S = 5.0
_SOCKET_TIMEOUT_S = 15.0
# replies a gateway's reader takes in one round trip
_REPLIES_PER_READ = 1024


class RedisCommandQueue(CommandQueue):
    """Commands on one Redis list (LPUSH / BLMPOP: first in, first out); each gateway
    gets its replies on its own list, matched to the waiting request by id.

    Round trips are per batch, not per command: a gateway pushes every command
    submitted while its previous push was on the wire in one LPUSH, the core takes up
    to a batch in one BLMPOP and answers each gateway's share in one RPUSH, and a
    gateway's reply reader takes every reply waiting in one BLMPOP. Needs Redis 7.

    A command taken by a core that then dies before journaling it is lost; its
    gateway times out and the client retries with the same client_order_id.
    """

    def __init__(
        self,
        url: str,
        prefix: str = "emx",
        gateway_id: str | None = None,
        default_timeout: float = 10.0,
        reply_ttl_s: int = 60,
    ) -> None:
        import redis.asyncio as aioredis
        from redis.asyncio.retry import Retry
        from redis.backoff import ExponentialWithJitterBackoff

        # Every read is bounded: a blocking pop waits at most _BLOCK_S server-side, and
        # a reply that never comes (a half-dead connection) ends in a timeout error,
        # never in a wait without end. Retries are quick: with the client's default
        # backoff (seconds apart) a pop whose cancellation the client lost while closing
        # its connection went on retrying for over 10 s before it ended.
        self._redis = aioredis.Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=_SOCKET_TIMEOUT_S,
            socket_timeout=_SOCKET_TIMEOUT_S,
            retry=Retry(ExponentialWithJitterBackoff(cap=0.5, base=0.05), 3),
        )
        self._commands_key = f"{prefix}:commands"
        self._reply_key = f"{prefix}:replies:{gateway_id or uuid.uuid4().hex}"
        self._default_timeout = default_timeout
        self._reply_ttl_s = reply_ttl_s
        self._waiting: dict[str, asyncio.Future] = {}
        # envelopes not pushed yet, by request id, in submission order
        self._outbox: dict[str, str] = {}
        self._pusher: asyncio.Task | None = None
        self._dispatcher: asyncio.Task | None = None
        self._closing = False

    async def start(self) -> None:
        info = await self._redis.info("server")
        version = tuple(int(p) for p in str(info.get("redis_version", "0")).split(".")[:2])
        if version < (7, 0):
            raise RuntimeError(f"the command queue needs Redis 7 (BLMPOP), not {version}")

    async def submit(self, command: Command, timeout: float | None = None) -> Message:
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = asyncio.create_task(self._dispatch_replies())
        request_id = uuid.uuid4().hex
        future = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        wait = timeout or self._default_timeout
        envelope = {
            "id": request_id,
            "reply_to": self._reply_key,
            "command": to_payload(command),
            # past this the gateway has answered "timeout": the core must drop it
            "deadline_ms": time.time_ns() // 1_000_000 + int(wait * 1000),
        }
        self._outbox[request_id] = _dumps(envelope)
        if self._pusher is None:
            self._pusher = asyncio.create_task(self._push())
        try:
            async with asyncio.timeout(wait):
                return await future
        except TimeoutError:
            raise CommandTimeout("the core did not answer in time") from None
        finally:
            self._waiting.pop(request_id, None)
            # never pushed once its submitter stopped waiting
            self._outbox.pop(request_id, None)

    async def _push(self) -> None:
        """Push the outbox, one LPUSH per round: what is submitted while one push is on
        the wire goes in the next. One task, so a gateway's commands keep their order."""
        try:
            while self._outbox:
                sent, self._outbox = self._outbox, {}
                try:
                    # LPUSH a b c leaves c at the head: the core, popping from the tail,
                    # still takes a first
                    await self._redis.lpush(self._commands_key, *sent.values())
                except Exception as exc:
                    # each submitter raises what a push of its own would have raised
                    for request_id in sent:
                        future = self._waiting.get(request_id)
                        if future is not None and not future.done():
                            future.set_exception(exc)
        finally:
            self._pusher = None

    async def _dispatch_replies(self) -> None:
        # One blocking reader per gateway, not one per request in flight. The loop also
        # ends on the closing flag: a cancellation lost inside the client (turned into a
        # connection error and retried here) would otherwise keep it running for ever.
        while not self._closing:
            try:
                item = await self._redis.blmpop(
                    _BLOCK_S, 1, self._reply_key, direction="LEFT", count=_REPLIES_PER_READ
                )
            except asyncio.CancelledError:
                raise
            except Exception:
                if self._closing:
                    return
                log.exception("reading command replies failed; retrying")
                await asyncio.sleep(0.5)
                continue
            if item is None:
                continue
            for raw in item[1]:
                try:
                    reply = json.loads(raw)
                    future = self._waiting.get(reply["id"])
                except (ValueError, KeyError, TypeError):
                    log.error("dropping a malformed reply on %s", self._reply_key)
                    continue
                if future is not None and not future.done():
                    future.set_result(reply["result"])

    async def next_batch(
        self, max_n: int, timeout: float | None = 1.0
    ) -> list[tuple[Any, Command]]:
        # BLMPOP's timeout 0 means "forever"; a sub-millisecond wait would round to it.
        # "For ever" is a loop of bounded waits, so no read outlives the socket timeout.
        while True:
            block = _BLOCK_S if timeout is None else min(max(timeout, 0.001), _BLOCK_S)
            # the first command and all that queued behind it, up to max_n, in one round trip
            popped = await self._redis.blmpop(
                block, 1, self._commands_key, direction="RIGHT", count=max_n
            )
            if popped is not None:
                break
            if timeout is not None and timeout <= _BLOCK_S:
                return []
            if timeout is not None:
                timeout -= _BLOCK_S
        raw = popped[1]
        envelopes = [e for e in map(_envelope, raw) if e is not None]
        now_ms = time.time_ns() // 1_000_000
        live = [e for e in envelopes if e.get("deadline_ms", now_ms) >= now_ms]
        if len(live) < len(envelopes):
            log.warning(
                "dropped %d commands whose gateways stopped waiting", len(envelopes) - len(live)
            )
        batch, refused = [], []
        for e in live:
            handle = (e["reply_to"], e["id"])
            try:
                batch.append((handle, from_payload(e["command"])))
            except MalformedCommand as bad:
                # refused here, never journaled: the core only ever sees whole commands
                refused.append((handle, malformed_reply(bad)))
        await self.reply_many(refused)
        return batch

    async def pending(self) -> int:
        return await self._redis.llen(self._commands_key)

    async def reply_many(self, replies: Sequence[tuple[Any, Message]]) -> None:
        if not replies:
            return
        # one RPUSH per gateway, its replies in the order given
        by_gateway: dict[str, list[str]] = {}
        for (reply_to, request_id), result in replies:
            by_gateway.setdefault(reply_to, []).append(_dumps({"id": request_id, "result": result}))
        pipe = self._redis.pipeline(transaction=False)
        for key, values in by_gateway.items():
            pipe.rpush(key, *values)
            # A gateway that died leaves no reply list behind for long.
            pipe.expire(key, self._reply_ttl_s)
        await pipe.execute()

    async def aclose(self) -> None:
        self._closing = True
        if self._pusher is not None:
            self._pusher.cancel()
            await asyncio.wait({self._pusher}, timeout=_SOCKET_TIMEOUT_S)
            self._pusher = None
        self._outbox.clear()
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            # bounded: the flag ends the loop within one blocking read at most
            await asyncio.wait({self._dispatcher}, timeout=_SOCKET_TIMEOUT_S)
            if not self._dispatcher.done():
                log.error("the reply reader of %s did not stop", self._reply_key)
            elif not self._dispatcher.cancelled() and self._dispatcher.exception() is not None:
                log.error("the reply reader failed: %r", self._dispatcher.exception())
            self._dispatcher = None
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(CommandTimeout("the gateway closed its command queue"))
        await self._redis.aclose()


def _envelope(raw: str) -> dict | None:
    """A queued command's envelope, or None (logged) for one no gateway could have sent."""
    try:
        e = json.loads(raw)
    except ValueError:
        e = None
    if type(e) is dict and type(e.get("reply_to")) is str and type(e.get("id")) is str:
        return e
    log.error("dropped a queued command with no envelope to reply to: %.200s", raw)
    return None


def malformed_reply(bad: MalformedCommand) -> Message:
    """The core's answer to a payload that is not a command."""
    return {
        "seq": None,
        "result": {},
        "error": {"code": bad.code, "message": str(bad)},
        "orders": [],
    }


# --- wiring ----------------------------------------------------------------------------------


def make_bus(settings: Any) -> EventBus:
    """Redis when EMX_REDIS_URL is set, else in-process."""
    if settings.redis_url:
        return RedisBus(settings.redis_url, prefix=settings.redis_prefix)
    return InProcessBus()


def make_command_queue(settings: Any) -> CommandQueue:
    """The command channel. In-process, gateway and core must share ONE instance;
    over Redis each instance gets its own reply list, which a core never reads."""
    timeout = settings.command_timeout_s
    if settings.redis_url:
        return RedisCommandQueue(
            settings.redis_url, prefix=settings.redis_prefix, default_timeout=timeout
        )
    return InProcessCommandQueue(default_timeout=timeout)
