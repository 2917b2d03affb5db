"""Command queues: gateways submit and wait, the one core drains batches and replies."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from exchange.core.command_codec import to_payload
from exchange.core.commands import ClaimReduction, Deposit
from exchange.infra.bus import CommandTimeout, InProcessCommandQueue, RedisCommandQueue


def n(i: int) -> Deposit:
    """A small command told apart by its amount."""
    return Deposit(account_id="ACC-1", amount_fen=i)


# A wait that never ends (a reader that swallowed its cancellation) cannot be bounded
# from inside the event loop: the suite's per-test timeout, far below its 300 s, ends it.
pytestmark = pytest.mark.timeout(60)


@pytest.fixture(params=["inprocess", "redis"])
async def make_queues(request):
    """make(n) -> n gateway-side queues plus the core side, all on one backend."""
    created = []

    def make(gateways: int = 1):
        if request.param == "inprocess":
            shared = InProcessCommandQueue()
            created.append(shared)
            return [shared] * gateways, shared
        url = request.getfixturevalue("redis_url")
        prefix = request.getfixturevalue("redis_prefix")
        queues = [RedisCommandQueue(url, prefix=prefix) for _ in range(gateways + 1)]
        created.extend(queues)
        return queues[:-1], queues[-1]

    yield make
    for queue in created:
        async with bounded(20, f"closing {type(queue).__name__}"):
            await queue.aclose()


@contextlib.asynccontextmanager
async def bounded(seconds: float, what: str):
    """Fail with a message naming the step, rather than hang until the suite's timeout."""
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError:
        pytest.fail(f"{what} did not finish within {seconds} s", pytrace=False)


@contextlib.asynccontextmanager
async def running_core(core, batches: list[int] | None = None, max_n: int = 512):
    """A stand-in core: answers each command with what it received and its batch size."""

    stopping = asyncio.Event()

    async def loop():
        # The flag, not only the cancellation, ends it: the Redis client can lose a
        # cancellation that lands while it closes a connection, and then retries.
        while not stopping.is_set():
            batch = await core.next_batch(max_n, timeout=0.2)
            if batches is not None and batch:
                batches.append(len(batch))
            await core.reply_many(
                [
                    (handle, {"echo": to_payload(command), "batch": len(batch)})
                    for handle, command in batch
                ]
            )

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        stopping.set()
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=10)
        if not done:
            pytest.fail("the stand-in core did not stop within 10 s of its cancellation")
        if not task.cancelled() and task.exception() is not None:
            # a failure of the stand-in's own Redis calls after the test's replies came
            # back says nothing about the queue under test; make it visible, not fatal
            print(f"the stand-in core ended with {task.exception()!r}")


async def test_each_submitter_gets_the_reply_to_its_own_command(make_queues):
    (gateway,), core = make_queues()
    async with running_core(core):
        commands = [
            ClaimReduction("ACC-1", "NOX-2025", i, "deep_treatment", "佛山", "") for i in range(100)
        ]
        replies = await asyncio.gather(*(gateway.submit(c, timeout=5) for c in commands))
    assert [r["echo"] for r in replies] == [to_payload(c) for c in commands]


async def test_replies_go_back_to_the_gateway_that_asked(make_queues):
    gateways, core = make_queues(gateways=3)
    async with bounded(30, "three gateways' commands and replies"), running_core(core):
        replies = await asyncio.gather(
            *(
                g.submit(Deposit(f"ACC-{i}", k), timeout=5)
                for i, g in enumerate(gateways)
                for k in range(5)
            )
        )
    asked = [to_payload(Deposit(f"ACC-{i}", k)) for i in range(3) for k in range(5)]
    assert [r["echo"] for r in replies] == asked


async def test_concurrent_commands_are_drained_in_batches(make_queues):
    (gateway,), core = make_queues()
    batches: list[int] = []
    submissions = [asyncio.create_task(gateway.submit(n(i), timeout=5)) for i in range(40)]
    async with asyncio.timeout(5):  # all of them queue up before the core starts
        while await core.pending() < 40:
            await asyncio.sleep(0.005)
    async with running_core(core, batches, max_n=16):
        await asyncio.gather(*submissions)
    assert sum(batches) == 40
    assert max(batches) == 16
    assert len(batches) <= 4


async def test_commands_are_taken_first_in_first_out(make_queues):
    (gateway,), core = make_queues()
    submissions = []
    for i in range(10):
        submissions.append(asyncio.create_task(gateway.submit(n(i), timeout=5)))
        async with asyncio.timeout(5):  # each lands before the next is sent
            while await core.pending() < i + 1:
                await asyncio.sleep(0.002)
    taken = []
    while len(taken) < 10:
        taken.extend(await core.next_batch(3, timeout=1))
    assert [command.amount_fen for _handle, command in taken] == list(range(10))
    await core.reply_many([(h, {"ok": True}) for h, _c in taken])
    assert await asyncio.gather(*submissions) == [{"ok": True}] * 10


async def test_next_batch_returns_nothing_after_its_timeout(make_queues):
    _gateways, core = make_queues()
    async with asyncio.timeout(3):
        assert await core.next_batch(10, timeout=0.1) == []


async def test_submit_times_out_when_the_core_does_not_answer(make_queues):
    (gateway,), core = make_queues()
    with pytest.raises(CommandTimeout):
        await gateway.submit(n(1), timeout=0.2)
    # The submitter was told it failed, so the core never gets it to apply later.
    assert await core.next_batch(10, timeout=0.5) == []
    async with running_core(core):
        assert (await gateway.submit(n(2), timeout=5))["echo"] == to_payload(n(2))


async def test_a_late_reply_to_a_command_already_taken_is_harmless(make_queues):
    (gateway,), core = make_queues()
    submitted = asyncio.create_task(gateway.submit(n(1), timeout=0.5))
    taken = await core.next_batch(10, timeout=2)
    assert [c for _h, c in taken] == [n(1)]
    with pytest.raises(CommandTimeout):
        await submitted
    await core.reply_many([(h, {"late": True}) for h, _c in taken])
    async with running_core(core):
        assert (await gateway.submit(n(2), timeout=5))["echo"] == to_payload(n(2))


async def test_closing_a_gateway_ends_its_reply_reader_even_if_the_client_loses_the_cancel(
    redis_url, redis_prefix
):
    """The reply reader retries on connection errors; if the Redis client turns the
    cancellation of a blocking read into such an error, closing must still end it."""
    gateway = RedisCommandQueue(redis_url, prefix=redis_prefix)
    blmpop = gateway._redis.blmpop

    async def blmpop_losing_the_cancel(*args, **kwargs):
        try:
            return await blmpop(*args, **kwargs)
        except asyncio.CancelledError:
            raise ConnectionError("connection closed while reading") from None

    gateway._redis.blmpop = blmpop_losing_the_cancel
    with pytest.raises(CommandTimeout):
        await gateway.submit(n(1), timeout=0.2)  # starts the reply reader; nobody answers
    async with bounded(20, "closing the gateway's command queue"):
        await gateway.aclose()


# --- round trips over Redis: per batch, not per command ---------------------------------------


def counting(queue: RedisCommandQueue) -> list[str]:
    """The names of the commands `queue` sends to Redis from now on, pipelines included."""
    sent: list[str] = []
    client = queue._redis
    execute_command = client.execute_command
    pipeline = client.pipeline

    async def counted(*args, **options):
        sent.append(str(args[0]).upper())
        return await execute_command(*args, **options)

    def counted_pipeline(*args, **kwargs):
        pipe = pipeline(*args, **kwargs)
        execute = pipe.execute

        async def execute_counted(*a, **k):
            sent.append("PIPELINE:" + ",".join(str(c[0][0]).upper() for c in pipe.command_stack))
            return await execute(*a, **k)

        pipe.execute = execute_counted
        return pipe

    client.execute_command = counted
    client.pipeline = counted_pipeline
    return sent


async def test_commands_submitted_together_are_one_push_and_one_pop(redis_url, redis_prefix):
    gateway = RedisCommandQueue(redis_url, prefix=redis_prefix)
    core = RedisCommandQueue(redis_url, prefix=redis_prefix)
    try:
        pushed = counting(gateway)
        submissions = [asyncio.create_task(gateway.submit(n(i), timeout=5)) for i in range(50)]
        async with asyncio.timeout(5):
            while await core.pending() < 50:
                await asyncio.sleep(0.005)
        assert pushed.count("LPUSH") == 1
        popped = counting(core)
        batch = await core.next_batch(512, timeout=1)
        assert [c.amount_fen for _h, c in batch] == list(range(50))
        assert popped == ["BLMPOP"]
        await core.reply_many([(h, {"i": c.amount_fen}) for h, c in batch])
        # one RPUSH of all 50 replies (and the reply list's expiry), in one round trip
        assert popped[1:] == ["PIPELINE:RPUSH,EXPIRE"]
        replies = await asyncio.gather(*submissions)
        assert replies == [{"i": i} for i in range(50)]
        # the gateway's reader took them in a round trip or two, not fifty
        assert pushed.count("BLMPOP") <= 3
    finally:
        await gateway.aclose()
        await core.aclose()


async def test_interleaved_replies_to_two_gateways_reach_their_submitters(redis_url, redis_prefix):
    gateways = [RedisCommandQueue(redis_url, prefix=redis_prefix) for _ in range(2)]
    core = RedisCommandQueue(redis_url, prefix=redis_prefix)
    try:
        submissions = [
            asyncio.create_task(gateways[i % 2].submit(n(i), timeout=5)) for i in range(40)
        ]
        async with asyncio.timeout(5):
            while await core.pending() < 40:
                await asyncio.sleep(0.005)
        taken = []
        while len(taken) < 40:
            taken.extend(await core.next_batch(512, timeout=1))
        # each gateway's commands in its own submission order
        for g in (0, 1):
            assert [c.amount_fen for _h, c in taken if c.amount_fen % 2 == g] == list(
                range(g, 40, 2)
            )
        # answered in one call, the two gateways' replies interleaved and reversed
        await core.reply_many([(h, {"i": c.amount_fen}) for h, c in reversed(taken)])
        assert await asyncio.gather(*submissions) == [{"i": i} for i in range(40)]
    finally:
        for queue in (*gateways, core):
            await queue.aclose()


async def test_a_failed_push_fails_every_command_in_it(redis_url, redis_prefix):
    gateway = RedisCommandQueue(redis_url, prefix=redis_prefix)
    try:

        async def refused(*_args, **_kwargs):
            raise ConnectionError("Redis went away")

        gateway._redis.lpush = refused
        results = await asyncio.gather(
            *(gateway.submit(n(i), timeout=5) for i in range(5)), return_exceptions=True
        )
        assert all(isinstance(r, ConnectionError) for r in results)
        assert gateway._waiting == {} and gateway._outbox == {}
    finally:
        await gateway.aclose()


async def test_a_command_whose_submitter_gave_up_before_its_push_is_never_sent(
    redis_url, redis_prefix
):
    gateway = RedisCommandQueue(redis_url, prefix=redis_prefix)
    core = RedisCommandQueue(redis_url, prefix=redis_prefix)
    try:
        lpush = gateway._redis.lpush
        on_the_wire = asyncio.Event()
        release = asyncio.Event()

        async def slow_lpush(*args):
            on_the_wire.set()
            await release.wait()
            return await lpush(*args)

        gateway._redis.lpush = slow_lpush
        first = asyncio.create_task(gateway.submit(n(1), timeout=5))
        await on_the_wire.wait()
        # these two wait for the next push, while the first is on the wire
        second = asyncio.create_task(gateway.submit(n(2), timeout=5))
        given_up = asyncio.create_task(gateway.submit(n(3), timeout=5))
        await asyncio.sleep(0.01)
        given_up.cancel()
        await asyncio.sleep(0.01)
        release.set()
        taken = []
        while len(taken) < 2:
            taken.extend(await core.next_batch(10, timeout=2))
        assert [c for _h, c in taken] == [n(1), n(2)]
        assert await core.next_batch(10, timeout=0.2) == []
        await core.reply_many([(h, {"ok": c.amount_fen}) for h, c in taken])
        assert await asyncio.gather(first, second) == [{"ok": 1}, {"ok": 2}]
    finally:
        await gateway.aclose()
        await core.aclose()


async def test_a_core_that_dies_holding_a_batch_takes_no_more_and_acknowledges_nothing(
    redis_url, redis_prefix
):
    """A core that dies after taking a batch loses that batch alone: its submitters time
    out, never told it was applied; the next core takes the rest, in order, and answers it."""
    gateway = RedisCommandQueue(redis_url, prefix=redis_prefix)
    dying = RedisCommandQueue(redis_url, prefix=redis_prefix)
    successor = RedisCommandQueue(redis_url, prefix=redis_prefix)
    try:
        submissions = [asyncio.create_task(gateway.submit(n(i), timeout=2)) for i in range(10)]
        async with asyncio.timeout(5):
            while await dying.pending() < 10:
                await asyncio.sleep(0.005)
        lost = await dying.next_batch(4, timeout=1)
        assert [c.amount_fen for _h, c in lost] == [0, 1, 2, 3]
        await dying.aclose()  # gone without a reply
        assert await successor.pending() == 6
        rest = await successor.next_batch(512, timeout=1)
        assert [c.amount_fen for _h, c in rest] == [4, 5, 6, 7, 8, 9]
        await successor.reply_many([(h, {"applied": c.amount_fen}) for h, c in rest])
        results = await asyncio.gather(*submissions, return_exceptions=True)
        assert all(isinstance(r, CommandTimeout) for r in results[:4])
        assert results[4:] == [{"applied": i} for i in range(4, 10)]
    finally:
        await gateway.aclose()
        await successor.aclose()
