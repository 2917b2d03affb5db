"""feeds.messages_for on hand-made outcomes and a fake core: which channels each event
kind reaches, in what order, with what data; and the odd cases (refused commands, an
expiry riding on a refusal, alerts naming no real account, accounts with no city)."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from exchange.core.commands import AcknowledgeAlert, PlaceOrder
from exchange.core.feeds import messages_for
from exchange.core.market import SessionStats
from exchange.core.orders import OrderRecord
from exchange.core.state import Outcome
from matching_engine.events import BookLevelChanged, OrderAccepted, Trade
from matching_engine.types import OrderType, Side, TimeInForce
from settlement.errors import ErrorCode, SettlementError
from settlement.events import (
    AuctionCleared,
    BidChanged,
    BlockTradeChanged,
    BlockTradeSettled,
    TradeSettled,
)

SYM = "NOX-2025"
TS = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z
TIME = "2026-01-01T00:00:00.000000Z"


@dataclass
class _Account:
    name: str
    city_code: str


class _Registry:
    def __init__(self) -> None:
        self.accounts = {
            "buyer": _Account("Buyer Co", "440100"),
            "seller": _Account("Seller Co", "440300"),
            "nocity": _Account("No City Co", ""),
        }
        self.block_trades: dict[str, object] = {}
        self.bids: dict[str, object] = {}
        self.auctions: dict[str, object] = {}

    def account(self, account_id: str) -> _Account:
        try:
            return self.accounts[account_id]
        except KeyError:
            raise SettlementError(ErrorCode.UNKNOWN_ACCOUNT, account_id) from None

    def block_trade(self, block_id: str):
        return self.block_trades[block_id]

    def bid(self, bid_id: str):
        return self.bids[bid_id]

    def auction(self, auction_id: str):
        return self.auctions[auction_id]


class _Core:
    def __init__(self) -> None:
        self.registry = _Registry()
        self.stats = {SYM: SessionStats(SYM, prev_close_fen=10_000), "B": SessionStats("B", 500)}


@pytest.fixture
def core() -> _Core:
    return _Core()


def _trade(seq=7, trade_id=3, price=10_100, kg=2_000, taker=Side.BUY, symbol=SYM) -> Trade:
    return Trade(seq, TS, symbol, trade_id, price, kg, taker, 11, "seller", 0, 12, "buyer", 0)


def _settled(seq=7, trade_id=3, buyer="buyer", seller="seller") -> TradeSettled:
    return TradeSettled(
        seq, TS, SYM, trade_id, 10_100, 2_000, buyer, seller, 12, 11, "", "", 20_200_000, 30, 40, ()
    )


def _record(account_id="buyer", order_id=12, status="filled") -> OrderRecord:
    return OrderRecord(
        id=order_id,
        client_order_id=f"c-{order_id}",
        account_id=account_id,
        symbol=SYM,
        side="buy",
        type="limit",
        price_fen=10_100,
        quantity_kg=2_000,
        remaining_kg=0,
        filled_kg=2_000,
        filled_value=20_200_000,
        time_in_force="GTC",
        status=status,
        cancel_reason=None,
        created_us=TS,
        updated_us=TS,
        request_hash="h",
    )


def _alert(account_id="buyer", seq=7, kind="wash_trade") -> dict:
    return {
        "seq": seq,
        "ts_us": TS,
        "kind": kind,
        "symbol": SYM,
        "account_id": account_id,
        "detail": {"n": 1},
    }


def _channels(msgs) -> list[tuple[str, str]]:
    return [(channel, msg["type"]) for channel, msg in msgs]


def test_a_trade_reaches_the_tape_the_book_the_ticker_the_regulators_and_both_parties(core):
    core.stats[SYM].on_trade(10_100, 2_000)
    out = Outcome(
        seq=7,
        ts_us=TS,
        kind=PlaceOrder.kind,
        engine_events=[
            OrderAccepted(
                7, TS, SYM, 12, "buyer", Side.BUY, OrderType.LIMIT, 10_100, 2_000, TimeInForce.GTC
            ),
            _trade(),
            BookLevelChanged(7, SYM, Side.SELL, 10_100, 0),
        ],
        settlement_events=[_settled()],
        orders=[_record("buyer", 12), _record("seller", 11)],
    )
    msgs = messages_for(core, [out])
    assert _channels(msgs) == [
        ("market:NOX-2025", "trade"),
        ("market:NOX-2025", "book"),
        ("market:NOX-2025", "ticker"),
        ("regulator", "trade"),
        ("regulator:440100", "trade"),
        ("regulator:440300", "trade"),
        ("private:buyer", "fill"),
        ("private:seller", "fill"),
        ("private:buyer", "order"),
        ("private:seller", "order"),
    ]
    public = msgs[0][1]
    assert public == {
        "type": "trade",
        "symbol": SYM,
        "core_seq": 7,
        "data": {
            "id": "NOX-2025-3",
            "price": "101.00",
            "quantity": "2.000",
            "taker_side": "buy",
            "time": TIME,
            "seq": 7,
            "kind": "continuous",
        },
    }
    assert msgs[1][1]["data"] == {"snapshot": False, "book_seq": 7, "asks": [["101.00", "0.000"]]}
    assert msgs[2][1]["data"]["last"] == "101.00" and msgs[2][1]["data"]["trades"] == 1
    regulator = msgs[3][1]["data"]
    assert regulator["buyer"] == {"account_id": "buyer", "name": "Buyer Co", "city_code": "440100"}
    assert regulator["seller"]["city_code"] == "440300"
    assert regulator["cash"] == "202000.00"
    # one message object for the province and each city concerned
    assert msgs[3][1] is msgs[4][1] is msgs[5][1]
    buyer_fill, seller_fill = msgs[6][1]["data"], msgs[7][1]["data"]
    assert (buyer_fill["side"], buyer_fill["order_id"], buyer_fill["fee"]) == ("buy", "12", "0.30")
    assert (seller_fill["side"], seller_fill["order_id"], seller_fill["fee"]) == (
        "sell",
        "11",
        "0.40",
    )
    # the taker side comes from the engine's trade, which the settlement event lacks
    assert buyer_fill["taker_side"] == seller_fill["taker_side"] == "buy"
    assert msgs[8][1]["data"]["id"] == "12" and msgs[8][1]["data"]["status"] == "filled"
    assert not {"buyer", "seller", "account_id"} & set(public["data"])


def test_book_deltas_keep_the_last_quantity_per_level_best_first_and_one_message_per_symbol(core):
    out = Outcome(
        seq=9,
        ts_us=TS,
        kind=PlaceOrder.kind,
        engine_events=[
            BookLevelChanged(9, "B", Side.SELL, 510, 1_000),
            BookLevelChanged(9, SYM, Side.BUY, 9_900, 1_000),
            BookLevelChanged(9, SYM, Side.BUY, 10_000, 3_000),
            BookLevelChanged(9, SYM, Side.BUY, 9_900, 5_000),
            BookLevelChanged(9, SYM, Side.SELL, 10_300, 1_000),
            BookLevelChanged(9, SYM, Side.SELL, 10_200, 0),
        ],
    )
    msgs = messages_for(core, [out])
    # no trade: no ticker; symbols in the order their books first changed
    assert _channels(msgs) == [("market:B", "book"), ("market:NOX-2025", "book")]
    assert msgs[0][1]["data"] == {"snapshot": False, "book_seq": 9, "asks": [["5.10", "1.000"]]}
    assert msgs[1][1]["data"] == {
        "snapshot": False,
        "book_seq": 9,
        "bids": [["100.00", "3.000"], ["99.00", "5.000"]],
        "asks": [["102.00", "0.000"], ["103.00", "1.000"]],
    }


def test_trades_in_two_symbols_each_get_a_ticker_in_the_order_they_first_traded(core):
    core.stats["B"].on_trade(500, 1_000)
    core.stats[SYM].on_trade(10_100, 2_000)
    out = Outcome(
        seq=7,
        ts_us=TS,
        kind=PlaceOrder.kind,
        engine_events=[_trade(symbol="B", trade_id=1), _trade(), _trade(symbol="B", trade_id=2)],
    )
    assert _channels(messages_for(core, [out])) == [
        ("market:B", "trade"),
        ("market:NOX-2025", "trade"),
        ("market:B", "trade"),
        ("market:B", "ticker"),
        ("market:NOX-2025", "ticker"),
    ]


def test_a_refused_command_publishes_only_its_alerts(core):
    out = Outcome(
        seq=5,
        ts_us=TS,
        kind=PlaceOrder.kind,
        error=("insufficient_cash", "not enough cash"),
        # a refusal's outcome carries no effects; were any there, they are not published
        engine_events=[BookLevelChanged(5, SYM, Side.BUY, 9_900, 1_000)],
        orders=[_record()],
        alerts=[_alert("buyer", seq=5), _alert("seller", seq=5, kind="spoofing")],
    )
    msgs = messages_for(core, [out])
    assert _channels(msgs) == [
        ("regulator", "alert"),
        ("regulator:440100", "alert"),
        ("regulator", "alert"),
        ("regulator:440300", "alert"),
    ]
    first, second = msgs[0][1], msgs[2][1]
    assert first == {
        "type": "alert",
        "symbol": SYM,
        "core_seq": 5,
        "data": {
            "id": None,
            "kind": "wash_trade",
            "symbol": SYM,
            "account_id": "buyer",
            "detail": {"n": 1},
            "time": TIME,
            "seq": 5,
            "ordinal": 0,
            "status": "open",
        },
    }
    assert (second["data"]["kind"], second["data"]["ordinal"]) == ("spoofing", 1)


def test_a_refused_command_that_expired_an_instrument_still_publishes_the_expiry(core):
    out = Outcome(
        seq=6,
        ts_us=TS,
        kind=PlaceOrder.kind,
        error=("instrument_expired", "NOX-2025 has expired"),
        expired=[SYM],
        engine_events=[BookLevelChanged(6, SYM, Side.BUY, 9_900, 0)],
        orders=[_record(status="cancelled")],
    )
    assert _channels(messages_for(core, [out])) == [
        ("market:NOX-2025", "book"),
        ("private:buyer", "order"),
    ]


def test_an_alert_about_no_real_account_or_one_without_a_city_reaches_the_province_only(core):
    out = Outcome(
        seq=5,
        ts_us=TS,
        kind=PlaceOrder.kind,
        error=("unknown_account", "no such account"),
        alerts=[_alert("ghost"), _alert("nocity")],
    )
    assert _channels(messages_for(core, [out])) == [("regulator", "alert"), ("regulator", "alert")]


def test_an_acknowledgement_goes_to_the_province_and_the_subjects_city(core):
    out = Outcome(
        seq=20,
        ts_us=TS,
        kind=AcknowledgeAlert.kind,
        result={
            "alert_seq": 7,
            "alert_ordinal": 1,
            "alert_account_id": "seller",
            "alert_id": "42",
            "acknowledged_by": "province",
            "note": "checked",
        },
    )
    msgs = messages_for(core, [out])
    assert _channels(msgs) == [("regulator", "alert_ack"), ("regulator:440300", "alert_ack")]
    assert msgs[0][1] == {
        "type": "alert_ack",
        "symbol": None,
        "core_seq": 20,
        "data": {
            "id": "42",
            "seq": 7,
            "ordinal": 1,
            "account_id": "seller",
            "status": "acknowledged",
            "acknowledged_by": "province",
            "acknowledged_at": TIME,
            "note": "checked",
        },
    }


def test_a_settled_block_trade_is_on_the_tape_as_kind_block_without_a_ticker(core):
    ev = BlockTradeSettled(
        30, TS, "blk-1", SYM, 9_000, 50_000, "buyer", "nocity", "", "", 450_000_000, 5, 6, ()
    )
    out = Outcome(seq=30, ts_us=TS, kind="accept_block_trade", settlement_events=[ev])
    msgs = messages_for(core, [out])
    assert _channels(msgs) == [
        ("market:NOX-2025", "trade"),
        ("regulator", "trade"),
        ("regulator:440100", "trade"),
    ]
    assert msgs[0][1]["data"] == {
        "id": "blk-1",
        "price": "90.00",
        "quantity": "50.000",
        "taker_side": "buy",
        "time": TIME,
        "seq": 30,
        "kind": "block",
    }
    assert msgs[1][1]["data"]["seller"] == {
        "account_id": "nocity",
        "name": "No City Co",
        "city_code": None,
    }


def test_a_changed_block_trade_goes_to_both_parties(core):
    core.registry.block_trades["blk-1"] = SimpleNamespace(
        block_id="blk-1",
        symbol=SYM,
        seller_account_id="seller",
        buyer_account_id="buyer",
        price_fen=9_000,
        quantity_kg=50_000,
        note="",
        status="pending",
        cash_fen=0,
        buyer_fee_fen=0,
        seller_fee_fen=0,
        proposed_seq=29,
        proposed_us=TS,
        decided_us=0,
    )
    out = Outcome(
        seq=29,
        ts_us=TS,
        kind="propose_block_trade",
        settlement_events=[BlockTradeChanged(29, TS, "blk-1")],
    )
    msgs = messages_for(core, [out])
    assert _channels(msgs) == [("private:seller", "block_trade"), ("private:buyer", "block_trade")]
    data = msgs[0][1]["data"]
    assert (data["id"], data["status"], data["price"], data["decided_at"]) == (
        "blk-1",
        "pending",
        "90.00",
        None,
    )
    assert msgs[0][1] is msgs[1][1]


@pytest.mark.parametrize(("auction_status", "awarded"), [("open", None), ("cleared", "3.000")])
def test_a_changed_bid_goes_to_its_bidder_with_the_award_only_once_cleared(
    core, auction_status, awarded
):
    core.registry.auctions["a-1"] = SimpleNamespace(symbol=SYM, status=auction_status)
    core.registry.bids["bid-1"] = SimpleNamespace(
        bid_id="bid-1",
        auction_id="a-1",
        account_id="buyer",
        price_fen=9_500,
        quantity_kg=4_000,
        status="awarded" if awarded else "open",
        awarded_kg=3_000,
    )
    out = Outcome(
        seq=40, ts_us=TS, kind="place_bid", settlement_events=[BidChanged(40, TS, "bid-1")]
    )
    (msg,) = messages_for(core, [out])
    assert msg[0] == "private:buyer"
    assert msg[1]["type"] == "bid" and msg[1]["symbol"] == SYM
    assert msg[1]["data"]["awarded_quantity"] == awarded
    assert msg[1]["data"]["quantity"] == "4.000"


def test_a_cleared_auction_reaches_the_province_and_the_winners_cities(core):
    ev = AuctionCleared(
        50,
        TS,
        "a-1",
        SYM,
        9_500,
        5_000,
        8_000,
        (("bid-1", "buyer", 3_000, 28_500_000, 10), ("bid-2", "nocity", 2_000, 19_000_000, 7)),
    )
    msgs = messages_for(
        core, [Outcome(seq=50, ts_us=TS, kind="close_auction", settlement_events=[ev])]
    )
    assert _channels(msgs) == [("regulator", "auction"), ("regulator:440100", "auction")]
    data = msgs[0][1]["data"]
    assert (data["clearing_price"], data["sold_quantity"], data["quantity"]) == (
        "95.00",
        "5.000",
        "8.000",
    )
    assert [a["bidder"]["account_id"] for a in data["awards"]] == ["buyer", "nocity"]
    assert data["awards"][0]["cash"] == "285000.00" and data["awards"][0]["fee"] == "0.10"


def test_an_auction_that_sold_nothing_has_no_clearing_price_and_no_city(core):
    ev = AuctionCleared(51, TS, "a-2", SYM, 9_500, 0, 8_000, ())
    msgs = messages_for(
        core, [Outcome(seq=51, ts_us=TS, kind="close_auction", settlement_events=[ev])]
    )
    assert _channels(msgs) == [("regulator", "auction")]
    assert msgs[0][1]["data"]["clearing_price"] is None and msgs[0][1]["data"]["awards"] == []


def test_events_with_no_feed_message_are_skipped_and_outcomes_keep_their_order(core):
    accepted = OrderAccepted(
        3, TS, SYM, 1, "buyer", Side.BUY, OrderType.LIMIT, 9_900, 1_000, TimeInForce.GTC
    )
    first = Outcome(seq=3, ts_us=TS, kind=PlaceOrder.kind, engine_events=[accepted])
    second = Outcome(seq=4, ts_us=TS, kind=PlaceOrder.kind, orders=[_record(order_id=1)])
    third = Outcome(seq=5, ts_us=TS, kind="deposit")
    msgs = messages_for(core, [first, second, third])
    assert [(c, m["type"], m["core_seq"]) for c, m in msgs] == [("private:buyer", "order", 4)]
    assert messages_for(core, []) == []
