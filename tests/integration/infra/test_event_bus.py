"""Event buses: fan-out, order, slow subscribers cut off, replay; in-process and Redis alike."""

from __future__ import annotations

import asyncio

import pytest

from exchange.infra.bus import InProcessBus, RedisBus, SubscriberDropped


@pytest.fixture(params=["inprocess", "redis"])
async def make_bus(request):
    """A factory of buses on one backend; closes them afterwards."""
    created = []

    def make(**options):
        if request.param == "inprocess":
            bus = InProcessBus(**options)
        else:
            url = request.getfixturevalue("redis_url")
            bus = RedisBus(url, prefix=request.getfixturevalue("redis_prefix"), **options)
        created.append(bus)
        return bus

    yield make
    for bus in created:
        await bus.aclose()


async def _take(sub, n, timeout=5.0):
    got = []
    async with asyncio.timeout(timeout):
        async for item in sub:
            got.append(item)
            if len(got) == n:
                return got
    return got


async def test_every_subscriber_of_a_channel_gets_every_message_in_order(make_bus):
    bus = make_bus()
    async with bus.subscribe(["a"]) as one, bus.subscribe(["a"]) as two, bus.subscribe(["b"]):
        await bus.publish_many([("a", {"n": i}) for i in range(50)])
        expected = [("a", {"n": i}) for i in range(50)]
        assert await _take(one, 50) == expected
        assert await _take(two, 50) == expected


async def test_a_subscriber_sees_only_its_channels_in_publication_order(make_bus):
    bus = make_bus()
    messages = [("a", {"n": 1}), ("b", {"n": 2}), ("c", {"n": 3}), ("a", {"n": 4})]
    async with bus.subscribe(["a", "b"]) as sub:
        await bus.publish_many(messages[:2])
        await bus.publish("c", {"n": 3})
        await bus.publish("a", {"n": 4})
        assert await _take(sub, 3) == [messages[0], messages[1], messages[3]]


async def test_a_slow_subscriber_is_cut_off_without_slowing_the_publisher(make_bus):
    bus = make_bus(max_queue=16)
    async with bus.subscribe(["a"]) as slow, bus.subscribe(["a"]) as fast:
        received = []

        async def keep_up():
            async for _channel, message in fast:
                received.append(message["n"])
                if message["n"] == 29:
                    return

        reader = asyncio.create_task(keep_up())
        for n in range(30):
            async with asyncio.timeout(1):  # publishing never waits for a subscriber
                await bus.publish("a", {"n": n})
            await asyncio.sleep(0.005)
        await asyncio.wait_for(reader, 5)
        assert received == list(range(30))
        async with asyncio.timeout(5):
            while not slow.dropped:
                await asyncio.sleep(0.01)
        # What it missed is gone; every read says so, until it resubscribes.
        for _ in range(2):
            with pytest.raises(SubscriberDropped):
                await slow.__anext__()
        assert bus.subscriber_count("a") == 1


async def test_closing_a_subscription_ends_its_iteration_and_unregisters_it(make_bus):
    bus = make_bus()
    sub = bus.subscribe(["a"])
    await sub.start()
    assert bus.subscriber_count("a") == 1
    await sub.close()
    assert bus.subscriber_count("a") == 0
    assert [item async for item in sub] == []
    await bus.publish("a", {"n": 1})  # nobody listening: not an error


async def test_history_replays_a_channel_after_a_given_id(make_bus):
    bus = make_bus()
    await bus.publish_many([("a", {"n": i}) for i in range(5)] + [("b", {"n": 99})])
    everything = await bus.history("a")
    assert [m for _id, m in everything] == [{"n": i} for i in range(5)]
    later = await bus.history("a", after=everything[1][0])
    assert [m for _id, m in later] == [{"n": 2}, {"n": 3}, {"n": 4}]
    assert await bus.history("a", count=2) == everything[:2]


async def test_redis_bus_delivers_from_one_process_to_another(redis_url, redis_prefix):
    core = RedisBus(redis_url, prefix=redis_prefix)
    gateway = RedisBus(redis_url, prefix=redis_prefix)
    try:
        async with gateway.subscribe(["trades.NOX-2025"]) as sub:
            await core.publish_many(
                [("trades.NOX-2025", {"id": f"NOX-2025-{i}", "city": "深圳"}) for i in range(3)]
            )
            got = await _take(sub, 3)
        assert [m["id"] for _c, m in got] == ["NOX-2025-0", "NOX-2025-1", "NOX-2025-2"]
    finally:
        await core.aclose()
        await gateway.aclose()


async def test_redis_streams_are_capped(redis_url, redis_prefix):
    import redis.asyncio as aioredis

    bus = RedisBus(redis_url, prefix=redis_prefix, stream_maxlen=50)
    client = aioredis.Redis.from_url(redis_url)
    try:
        for start in range(0, 2000, 200):
            await bus.publish_many([("a", {"n": i}) for i in range(start, start + 200)])
        length = await client.xlen(f"{redis_prefix}:stream:a")
        # Approximate trimming removes whole nodes (about 100 entries) at a time.
        assert 50 <= length <= 250
    finally:
        await bus.aclose()
        await client.aclose()


async def test_redis_reader_failure_cuts_off_every_subscriber(redis_url, redis_prefix):
    bus = RedisBus(redis_url, prefix=redis_prefix)
    try:
        sub = bus.subscribe(["a"])
        await sub.start()

        async def broken(*_args, **_kwargs):
            raise ConnectionError("connection reset")

        bus._pubsub.get_message = broken
        with pytest.raises(SubscriberDropped):
            async with asyncio.timeout(5):
                await sub.__anext__()
        # A new subscription after the failure works on a fresh connection.
        async with bus.subscribe(["a"]) as again:
            await bus.publish("a", {"n": 1})
            assert await _take(again, 1) == [("a", {"n": 1})]
    finally:
        await bus.aclose()


async def test_the_in_process_history_is_bounded_over_all_channels_together():
    # one private channel per account: a bound per channel would grow with the accounts
    bus = InProcessBus(history_len=3)
    await bus.publish_many([(f"private:{n}", {"n": n}) for n in range(5)])
    assert [await bus.history(f"private:{n}") for n in range(2)] == [[], []]
    kept = [await bus.history(f"private:{n}") for n in range(2, 5)]
    assert [[m for _id, m in found] for found in kept] == [[{"n": 2}], [{"n": 3}], [{"n": 4}]]


async def test_take_returns_what_is_queued_at_once_and_stops_at_a_drop(make_bus):
    bus = make_bus(max_queue=4)
    async with bus.subscribe(["a"]) as sub:
        await bus.publish_many([("a", {"n": n}) for n in range(3)])
        async with asyncio.timeout(5):
            got = await sub.take()
            while len(got) < 3:  # Redis may hand them over in more than one read
                got += await sub.take()
        assert got == [("a", {"n": n}) for n in range(3)]
        await bus.publish_many([("a", {"n": n}) for n in range(6)])  # over max_queue: cut off
        async with asyncio.timeout(5):
            while not sub.dropped:
                await asyncio.sleep(0.01)
        for _ in range(2):  # every later read says so, as iteration does
            with pytest.raises(SubscriberDropped):
                await sub.take()


async def test_take_on_a_closed_subscription_returns_nothing(make_bus):
    bus = make_bus()
    sub = bus.subscribe(["a"])
    await sub.start()
    await bus.publish("a", {"n": 1})
    await sub.close()
    assert await sub.take() == []


async def test_a_redis_batch_is_one_command_and_survives_a_script_flush(redis_url, redis_prefix):
    """Publishing a batch sends Redis one command, whatever its size; each message still
    has a stream entry of its own. A Redis without the script (restarted) is sent it again."""
    publisher = RedisBus(redis_url, prefix=redis_prefix)
    reader = RedisBus(redis_url, prefix=redis_prefix)
    sent: list[str] = []
    execute_command = publisher._redis.execute_command

    async def counted(*args, **options):
        sent.append(str(args[0]).upper())
        return await execute_command(*args, **options)

    publisher._redis.execute_command = counted
    messages = [(("a", "b")[i % 2], {"n": i, "text": "é ✓"}) for i in range(40)]
    try:
        async with reader.subscribe(["a", "b"]) as sub:
            await publisher.publish_many(messages)
            assert sent == ["EVALSHA"] or sent == ["EVALSHA", "SCRIPT LOAD", "EVALSHA"]
            assert await _take(sub, 40) == messages
            sent.clear()
            # as if Redis had restarted since: it knows no script by that hash
            publisher._publish_script.sha = "0" * 40
            await publisher.publish_many(messages[:2])
            assert await _take(sub, 2) == messages[:2]
            assert sent == ["EVALSHA", "SCRIPT LOAD", "EVALSHA"]
        history = await reader.history("a")
        assert [m for _id, m in history] == [m for c, m in messages if c == "a"] + [messages[0][1]]
        assert len({entry_id for entry_id, _m in history}) == 21
    finally:
        await publisher.aclose()
        await reader.aclose()
