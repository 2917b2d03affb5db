"""Recovery checks the journal chain in another process while it restores and
replays: the result is the same as checking first, and a broken chain is the error
reported even when the replay failed on the broken entry first."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from exchange.config import Settings
from exchange.core.command_codec import to_payload
from exchange.infra.db.engine import make_engine
from exchange.infra.db.migrate import upgrade
from exchange.infra.journal import Journal, JournalCorrupted
from exchange.infra.runtime import ChainCheck, genesis_command, recover
from tests.core_driver import CoreDriver


def journaled(url: str) -> tuple[CoreDriver, object]:
    d = CoreDriver()
    d.ok(genesis_command(Settings(database_url=url)))
    d.list_nox()
    buyer = d.account("buyer", city="440300")
    d.deposit(buyer, 50_000_000)
    d.order(buyer, "buy", 322_000, 1_500)
    db = make_engine(url)
    upgrade(db)
    with db.begin() as conn:
        Journal(db).append(conn, [(seq, ts, c.kind, to_payload(c)) for seq, ts, c in d.log])
    return d, db


def test_the_chain_is_checked_in_another_process_with_the_same_result(database_url):
    d, db = journaled(database_url)
    check = ChainCheck(db)
    assert check._process is not None  # a file or a server: another process can read it
    assert check.result() == Journal(db).verify_chain()
    assert recover(db, Settings(database_url=database_url)).state_hash() == d.core.state_hash()
    db.dispose()


def test_an_in_memory_journal_is_checked_here():
    d, db = journaled("sqlite://")
    check = ChainCheck(db)
    assert check._process is None
    assert check.result() == (d.core.last_seq, Journal(db).last()[1])
    db.dispose()


def test_a_missing_entry_is_reported_as_a_broken_chain_not_as_a_replay_failure(database_url):
    _, db = journaled(database_url)
    with db.begin() as conn:
        conn.execute(text("DELETE FROM journal WHERE seq = 3"))
    # replaying alone would stop at the gap with an AssertionError
    with pytest.raises(JournalCorrupted) as broken:
        recover(db, Settings(database_url=database_url))
    assert broken.value.seq == 3
    db.dispose()


def test_an_edited_entry_that_replays_fine_is_still_refused(database_url):
    _, db = journaled(database_url)
    with db.begin() as conn:
        conn.execute(text("UPDATE journal SET payload = replace(payload, '50000000', '60000000')"))
    with pytest.raises(JournalCorrupted) as broken:
        recover(db, Settings(database_url=database_url))
    assert broken.value.seq == 4
    db.dispose()
