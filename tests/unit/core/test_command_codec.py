"""The command codec: every journal payload of the golden sessions (the v1 dict shape)
decodes to a typed command and encodes back to a payload that decodes to the same
command; anything else is refused with `invalid_command` before it can reach the core."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange.core import commands
from exchange.core.command_codec import from_payload, to_payload
from exchange.core.commands import COMMANDS, MalformedCommand
from exchange.core.state import Core

GOLDEN = Path(__file__).resolve().parents[2] / "golden"


def golden_payloads() -> list[dict]:
    payloads = []
    for path in sorted(GOLDEN.glob("*_session.jsonl")):
        for line in path.read_text().splitlines():
            payload = json.loads(line)
            payload.pop("at_s", None)  # the test's clock, not part of the command
            payloads.append(payload)
    return payloads


def test_every_kind_has_a_handler_in_the_core():
    assert set(Core()._handlers) == set(COMMANDS.values())
    assert all(cls.kind == kind for kind, cls in COMMANDS.items())


@pytest.mark.parametrize("payload", golden_payloads(), ids=lambda p: p["kind"])
def test_a_journaled_payload_round_trips(payload):
    command = from_payload(payload)
    assert command.kind == payload["kind"]
    again = to_payload(command)
    assert from_payload(again) == command
    # a field holding its default is left out; every other field is as it was journaled
    assert {k: v for k, v in payload.items() if k in again} == again


def test_an_order_without_the_later_options_keeps_the_shape_it_was_journaled_in():
    order = commands.PlaceOrder(
        "ACC-1", "c1", "h", "NOX-2025", "buy", "limit", 320_000, 1_000, "GTC"
    )
    assert to_payload(order) == {
        "kind": "place_order",
        "account_id": "ACC-1",
        "client_order_id": "c1",
        "request_hash": "h",
        "symbol": "NOX-2025",
        "side": "buy",
        "type": "limit",
        "price_fen": 320_000,
        "quantity_kg": 1_000,
        "time_in_force": "GTC",
    }
    assert from_payload({**to_payload(order), "v": 1}) == order


DEPOSIT = {"kind": "deposit", "account_id": "ACC-1", "amount_fen": 100}


@pytest.mark.parametrize(
    "payload",
    [
        {**DEPOSIT, "amount_fen": "100"},
        {**DEPOSIT, "amount_fen": 100.0},
        {**DEPOSIT, "amount_fen": True},
        {**DEPOSIT, "amount_fen": None},
        {**DEPOSIT, "account_id": 7},
        {"kind": "deposit", "account_id": "ACC-1"},
        {**DEPOSIT, "memo": "x"},
        {**DEPOSIT, "v": 2},
        {**DEPOSIT, "kind": "launch_rocket"},
        {**DEPOSIT, "kind": None},
        {k: v for k, v in DEPOSIT.items() if k != "kind"},
        [DEPOSIT],
        "deposit",
        {
            "kind": "place_order",
            "account_id": "ACC-1",
            "client_order_id": "c1",
            "request_hash": "h",
            "symbol": "NOX-2025",
            "side": "sideways",
            "type": "limit",
            "price_fen": 1,
            "quantity_kg": 1,
            "time_in_force": "GTC",
        },
        {
            "kind": "decide_reallocation",
            "account_id": "ACC-1",
            "application_id": "RAL-1",
            "decision": "approve",
            "sources": [{"from": "440100", "quantity_kg": "5"}],
        },
        {
            "kind": "decide_reallocation",
            "account_id": "ACC-1",
            "application_id": "RAL-1",
            "decision": "approve",
            "sources": {"440100": 5},
        },
        {"kind": "genesis", "fee_bps": 0, "stp": "cancel_everything", "thresholds": {}},
    ],
)
def test_a_malformed_payload_is_refused_with_a_stable_code(payload):
    with pytest.raises(MalformedCommand) as refused:
        from_payload(payload)
    assert refused.value.code == "invalid_command"


@given(
    sources=st.lists(
        st.tuples(st.sampled_from(["440100", "440300", "reserve"]), st.integers(1, 2**70)),
        max_size=4,
    ),
    note=st.none() | st.text(max_size=20),
)
def test_a_reallocation_decision_round_trips_through_json(sources, note):
    command = commands.DecideReallocation("ACC-1", "RAL-1", "approve", tuple(sources), note)
    wire = json.loads(json.dumps(to_payload(command)))
    assert from_payload(wire) == command
