"""The journal: append in the caller's transaction, read in order, detect any tampering."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from exchange.infra.journal import (
    GENESIS,
    Journal,
    JournalCorrupted,
    JournalError,
    decode_payload,
    encode_payload,
    link_hash,
)


def _entries(first: int, count: int):
    return [
        (seq, 1_700_000_000_000_000 + seq, "place_order", {"seq": seq, "city": "廣州", "q": [1, 2]})
        for seq in range(first, first + count)
    ]


def test_empty_journal_reports_genesis(db_engine):
    journal = Journal(db_engine)
    assert journal.last() == (0, GENESIS)
    assert list(journal.read()) == []
    assert journal.verify_chain() == (0, GENESIS)


def test_appended_entries_read_back_in_order_across_pages(db_engine):
    journal = Journal(db_engine)
    with db_engine.begin() as conn:
        journal.append(conn, _entries(1, 7))
    with db_engine.begin() as conn:
        tail = journal.append(conn, _entries(8, 5))
    read = list(journal.read(batch=3))
    assert [e.seq for e in read] == list(range(1, 13))
    assert read[0].payload == {"seq": 1, "city": "廣州", "q": [1, 2]}
    assert read[0].kind == "place_order"
    assert journal.last() == tail == (12, read[-1].hash)
    assert [e.seq for e in journal.read(after_seq=10)] == [11, 12]
    assert journal.verify_chain(batch=4) == tail


def test_hash_chain_follows_the_documented_formula(db_engine):
    journal = Journal(db_engine)
    with db_engine.begin() as conn:
        journal.append(conn, [(1, 5, "k", {"b": 1, "a": "x"})])
    expected = (
        __import__("hashlib").sha256((GENESIS + '[1,5,"k",{"a":"x","b":1}]').encode()).hexdigest()
    )
    assert journal.last() == (1, expected)
    assert link_hash(GENESIS, 1, 5, "k", encode_payload({"a": "x", "b": 1})) == expected


def test_rolled_back_transaction_leaves_no_entries(db_engine):
    journal = Journal(db_engine)
    with pytest.raises(RuntimeError), db_engine.begin() as conn:
        journal.append(conn, _entries(1, 3))
        raise RuntimeError("the core failed before commit")
    assert journal.last() == (0, GENESIS)


def test_append_refuses_a_gap_or_a_repeat(db_engine):
    journal = Journal(db_engine)
    with db_engine.begin() as conn:
        journal.append(conn, _entries(1, 2))
    with pytest.raises(JournalError), db_engine.begin() as conn:
        journal.append(conn, _entries(4, 1))
    with pytest.raises(JournalError), db_engine.begin() as conn:
        journal.append(conn, _entries(2, 1))
    assert journal.last()[0] == 2


def test_append_after_a_known_tail_chains_as_append_after_a_read_one(db_engine):
    """The sequencer passes the tail it keeps in memory: same rows, same hashes."""
    known, read = Journal(db_engine), Journal(db_engine)
    tail = (0, GENESIS)
    for first, count in [(1, 1), (2, 5), (7, 3)]:
        with db_engine.begin() as conn:
            tail = known.append(conn, _entries(first, count), tail=tail)
    assert known.verify_chain() == tail == known.last() == (9, tail[1])
    entries = list(known.read())
    assert entries[3].payload == {"seq": 4, "city": "廣州", "q": [1, 2]}
    with db_engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM journal")
    with db_engine.begin() as conn:
        read.append(conn, _entries(1, 1))
    with db_engine.begin() as conn:
        read.append(conn, _entries(2, 8))
    assert [e.hash for e in read.read()] == [e.hash for e in entries]


@pytest.mark.parametrize(
    "wrong",
    ["other_hash", "behind", "ahead", "empty"],
)
def test_append_after_a_wrong_tail_writes_nothing(db_engine, wrong):
    """A tail kept in memory that is not the journal's last row must fail the append,
    never write an entry whose prev_hash is not the hash of the row before it."""
    journal = Journal(db_engine)
    with db_engine.begin() as conn:
        journal.append(conn, _entries(1, 2))
    before = journal.last()
    (first_hash,) = [e.hash for e in journal.read() if e.seq == 1]
    tail, entries = {
        "other_hash": ((2, "f" * 64), _entries(3, 2)),
        "behind": ((1, first_hash), _entries(2, 2)),
        "ahead": ((3, "f" * 64), _entries(4, 1)),
        "empty": ((0, GENESIS), _entries(1, 1)),
    }[wrong]
    # behind: the primary key on seq refuses it (IntegrityError) on PostgreSQL
    with pytest.raises((JournalError, sa.exc.IntegrityError)), db_engine.begin() as conn:
        journal.append(conn, entries, tail=tail)
    assert journal.last() == before
    assert journal.verify_chain() == before


def _tamper(engine, sql: str, **params) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(sql), params)


@pytest.mark.parametrize(
    ("sql", "bad_seq"),
    [
        ("UPDATE journal SET payload = replace(payload, '廣州', '深圳') WHERE seq = 4", 4),
        ("UPDATE journal SET kind = 'cancel_order' WHERE seq = 3", 3),
        ("UPDATE journal SET ts_us = ts_us + 1 WHERE seq = 5", 5),
        ("DELETE FROM journal WHERE seq = 2", 2),
        ("UPDATE journal SET prev_hash = hash WHERE seq = 6", 6),
    ],
    ids=["payload", "kind", "timestamp", "deleted", "relinked"],
)
def test_verify_chain_names_the_first_tampered_entry(db_engine, sql, bad_seq):
    journal = Journal(db_engine)
    with db_engine.begin() as conn:
        journal.append(conn, _entries(1, 8))
    _tamper(db_engine, sql)
    with pytest.raises(JournalCorrupted) as caught:
        journal.verify_chain(batch=3)
    assert caught.value.seq == bad_seq


def test_rewritten_entry_with_recomputed_hash_breaks_the_next_link(db_engine):
    journal = Journal(db_engine)
    with db_engine.begin() as conn:
        journal.append(conn, _entries(1, 4))
    prev = next(e.hash for e in journal.read() if e.seq == 1)
    forged = encode_payload({"forged": True})
    _tamper(
        db_engine,
        "UPDATE journal SET payload = :p, hash = :h WHERE seq = 2",
        p=forged,
        h=link_hash(prev, 2, 1_700_000_000_000_002, "place_order", forged),
    )
    with pytest.raises(JournalCorrupted) as caught:
        journal.verify_chain()
    assert caught.value.seq == 3


def test_canonical_payload_is_one_spelling_per_value():
    a = encode_payload({"b": 1, "a": {"y": [1, "二"], "x": None}})
    b = encode_payload({"a": {"x": None, "y": [1, "二"]}, "b": 1})
    assert a == b == '{"a":{"x":null,"y":[1,"二"]},"b":1}'
    assert decode_payload(a) == {"a": {"x": None, "y": [1, "二"]}, "b": 1}
    with pytest.raises(ValueError):
        encode_payload({"nan": float("nan")})
