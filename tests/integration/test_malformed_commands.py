"""A payload that is not a command is refused where it enters (the Redis queue, the
sequencer, a replay) with the stable code `invalid_command`; it is never journaled and
never reaches the core, whose state and the commands after it go on as before."""

from __future__ import annotations

import asyncio
import json

import pytest

from exchange.config import Settings
from exchange.core.commands import Deposit, Genesis, OpenAccount
from exchange.core.state import Core
from exchange.infra.bus import RedisCommandQueue
from exchange.infra.journal import Journal
from exchange.infra.runtime import StateMismatch, replay
from exchange.infra.sequencer import Sequencer

BAD_PAYLOADS = [
    {"kind": "deposit", "account_id": "ACC-1", "amount_fen": "100"},  # a string amount
    {"kind": "deposit", "account_id": "ACC-1"},  # a field missing
    {"kind": "deposit", "account_id": "ACC-1", "amount_fen": 1, "memo": "x"},  # one too many
    {"kind": "launch_rocket"},
    ["deposit", "ACC-1", 100],
]


class Published:
    async def publish_many(self, messages) -> None:
        pass


class Replies:
    def __init__(self) -> None:
        self.got: dict = {}

    async def reply_many(self, replies) -> None:
        self.got.update(dict(replies))

    async def reply(self, handle, result) -> None:
        self.got[handle] = result


def _journal(db) -> list:
    return [(e.seq, e.kind) for e in Journal(db).read()]


@pytest.mark.parametrize("payload", BAD_PAYLOADS, ids=lambda p: json.dumps(p)[:40])
async def test_a_malformed_redis_payload_is_refused_and_the_sequencer_goes_on(
    payload, redis_url, redis_prefix, sqlite_url
):
    from exchange.infra.db.engine import make_engine
    from exchange.infra.db.migrate import upgrade

    db = make_engine(sqlite_url)
    upgrade(db)
    gateway = RedisCommandQueue(redis_url, prefix=redis_prefix)
    core_side = RedisCommandQueue(redis_url, prefix=redis_prefix)
    sequencer = Sequencer(Core(), db, Published(), core_side, recover=Core)

    async def core_turn() -> None:
        await sequencer.process(await core_side.next_batch(10, timeout=5))

    try:
        # what a gateway of another version (or anyone with access to Redis) could push
        raw = core_side._redis
        reply_to = f"{redis_prefix}:replies:raw"
        envelope = {"id": "bad-1", "reply_to": reply_to, "command": payload}
        await raw.lpush(f"{redis_prefix}:commands", json.dumps(envelope))
        await core_turn()
        _key, answer = await raw.blpop([reply_to], timeout=5)
        refused = json.loads(answer)
        assert refused["id"] == "bad-1"
        assert refused["result"]["seq"] is None
        assert refused["result"]["error"]["code"] == "invalid_command"
        for n, command in enumerate(
            [
                Genesis(fee_bps=0, stp="cancel_incoming", thresholds={}),
                OpenAccount("ent", "x", "Ent", "enterprise", "440100"),
            ],
            start=1,
        ):
            submitted = asyncio.create_task(gateway.submit(command, timeout=10))
            await core_turn()
            reply = await submitted
            assert reply["error"] is None and reply["seq"] == n
        assert sequencer.core.last_seq == 2
        assert _journal(db) == [(1, "genesis"), (2, "open_account")]
    finally:
        await gateway.aclose()
        await core_side.aclose()
        db.dispose()


async def test_the_sequencer_refuses_what_is_not_a_command_and_applies_the_rest(db_engine):
    replies = Replies()
    sequencer = Sequencer(Core(), db_engine, Published(), replies, recover=Core)
    bad, good = object(), object()
    await sequencer.process(
        [
            (bad, {"kind": "deposit", "account_id": "ACC-1", "amount_fen": 5}),
            (good, Genesis(fee_bps=0, stp="cancel_incoming", thresholds={})),
        ]
    )
    assert replies.got[bad]["error"]["code"] == "invalid_command"
    assert replies.got[bad]["seq"] is None
    assert replies.got[good]["error"] is None and replies.got[good]["seq"] == 1
    assert _journal(db_engine) == [(1, "genesis")]
    assert sequencer.core.last_seq == 1


def test_a_replay_stops_at_a_journal_entry_that_holds_no_command(db_engine, database_url):
    journal = Journal(db_engine)
    with db_engine.begin() as conn:
        journal.append(
            conn,
            [
                (
                    1,
                    10,
                    "genesis",
                    {"kind": "genesis", "fee_bps": 0, "stp": "cancel_incoming", "thresholds": {}},
                ),
                (2, 20, "deposit", {"kind": "deposit", "account_id": "ACC-1", "amount_fen": 1.5}),
            ],
        )
    with pytest.raises(StateMismatch, match="journal entry 2 holds no command"):
        replay(db_engine, Settings(database_url=database_url), use_snapshot=False)


def test_the_core_is_never_handed_a_half_checked_command():
    with pytest.raises(ValueError, match="amount_fen"):
        Deposit(account_id="ACC-1", amount_fen=True)
