"""Turns a committed batch of outcomes into bus messages for the WebSocket feeds.

Channels: `market:<symbol>` (public: book deltas, trades, ticker),
`private:<account_id>` (that account's orders and fills), `regulator` (every
trade with both parties, every alert and acknowledgement) and `regulator:<city>`
(the same messages, only those about that city's accounts: a city bureau's feed
subscribes to its own channel alone). Each message carries the core `seq`;
the WebSocket layer adds its own gap-free per-connection counter.
"""

from __future__ import annotations

from exchange.core.commands import AcknowledgeAlert, trade_id_for
from exchange.core.market import TradeKind
from exchange.core.regulation import AlertStatus
from exchange.core.state import Core, Outcome
from exchange.core.units import cny, iso_time, tonnes
from exchange.core.views import (
    block_trade_row,
    block_trade_view,
    order_view,
    party,
    record_row,
    ticker_view,
)
from matching_engine.events import BookLevelChanged, Trade
from matching_engine.types import Side
from settlement.auctions import AuctionStatus
from settlement.errors import SettlementError
from settlement.events import (
    AuctionCleared,
    BidChanged,
    BlockTradeChanged,
    BlockTradeSettled,
    TradeSettled,
)

MARKET = "market:"
PRIVATE = "private:"
REGULATOR = "regulator"
REGULATOR_CITY = "regulator:"

# The messages hold plain strings; module names keep the per-trade path to one lookup.
BUY = Side.BUY.value
SELL = Side.SELL.value
CONTINUOUS = TradeKind.CONTINUOUS.value
BLOCK = TradeKind.BLOCK.value


def messages_for(core: Core, outcomes: list[Outcome]) -> list[tuple[str, dict]]:
    """(channel, message) pairs for a committed batch, in the order they are published."""
    msgs: list[tuple[str, dict]] = []
    for out in outcomes:
        if out.error is not None and not out.expired:
            # a refused command changed nothing but may have raised alerts
            _alert_msgs(core, out, msgs)
            continue
        engine = _EngineBatch(out.seq)
        for ev in out.engine_events:
            handler = _ENGINE.get(type(ev))
            if handler is not None:
                handler(engine, ev)
        msgs.extend(engine.messages(core))
        for ev in out.settlement_events:
            handler = _SETTLEMENT.get(type(ev))
            if handler is not None:
                handler(core, ev, engine.taker_sides, msgs)
        for rec in out.orders:
            msgs.append(_order_msg(out.seq, rec))
        _alert_msgs(core, out, msgs)
        if out.kind == AcknowledgeAlert.kind:
            _regulator(msgs, _ack_msg(out), _cities(core, out.result["alert_account_id"]))
    return msgs


class _EngineBatch:
    """What one command's engine events add to the market channels: its trades in
    order, then one book delta per symbol (the levels as they ended), then a ticker
    for each symbol that traded."""

    def __init__(self, seq: int) -> None:
        self.seq = seq
        self.trades: list[tuple[str, dict]] = []
        self.book: dict[str, dict[str, dict[int, int]]] = {}
        self.traded: dict[str, None] = {}  # symbols in the order they first traded
        self.taker_sides: dict[tuple[str, int], str] = {}

    def messages(self, core: Core) -> list[tuple[str, dict]]:
        msgs = self.trades
        for symbol, sides in self.book.items():
            data: dict = {"snapshot": False, "book_seq": self.seq}
            if sides[BUY]:
                data["bids"] = _levels(sides[BUY], reverse=True)
            if sides[SELL]:
                data["asks"] = _levels(sides[SELL], reverse=False)
            msgs.append((MARKET + symbol, _msg("book", symbol, self.seq, data)))
        for symbol in self.traded:
            ticker = ticker_view(core.stats[symbol].to_dict())
            msgs.append((MARKET + symbol, _msg("ticker", symbol, self.seq, ticker)))
        return msgs


def _on_level(batch: _EngineBatch, ev: BookLevelChanged) -> None:
    sides = batch.book.setdefault(ev.symbol, {BUY: {}, SELL: {}})
    sides[str(ev.side)][ev.price_fen] = ev.quantity_kg


def _on_trade(batch: _EngineBatch, ev: Trade) -> None:
    batch.taker_sides[(ev.symbol, ev.trade_id)] = str(ev.taker_side)
    batch.traded.setdefault(ev.symbol)
    data = {
        "id": trade_id_for(ev.symbol, ev.trade_id),
        "price": cny(ev.price_fen),
        "quantity": tonnes(ev.quantity_kg),
        "taker_side": str(ev.taker_side),
        "time": iso_time(ev.ts_us),
        "seq": ev.seq,
        "kind": CONTINUOUS,
    }
    batch.trades.append((MARKET + ev.symbol, _msg("trade", ev.symbol, ev.seq, data)))


_ENGINE = {BookLevelChanged: _on_level, Trade: _on_trade}


def _msg(type_: str, symbol: str | None, core_seq: int, data: dict) -> dict:
    return {"type": type_, "symbol": symbol, "core_seq": core_seq, "data": data}


def _order_msg(seq: int, rec) -> tuple[str, dict]:
    return (PRIVATE + rec.account_id, _msg("order", rec.symbol, seq, order_view(record_row(rec))))


def _regulator(msgs: list, msg: dict, cities: set[str]) -> None:
    msgs.append((REGULATOR, msg))
    for city in sorted(cities):
        msgs.append((REGULATOR_CITY + city, msg))


def _cities(core: Core, *account_ids: str | None) -> set[str]:
    cities = set()
    for account_id in account_ids:
        try:
            cities.add(core.registry.account(account_id).city_code)
        except SettlementError:  # a refused command's alert may name no real account
            continue
    return cities - {""}


def _alert_msgs(core: Core, out: Outcome, msgs: list) -> None:
    for ordinal, alert in enumerate(out.alerts):
        _regulator(msgs, _alert_msg(alert, ordinal), _cities(core, alert["account_id"]))


def _ack_msg(out: Outcome) -> dict:
    r = out.result
    return {
        "type": "alert_ack",
        "symbol": None,
        "core_seq": out.seq,
        "data": {
            "id": r.get("alert_id"),
            "seq": r["alert_seq"],
            "ordinal": r["alert_ordinal"],
            "account_id": r["alert_account_id"],
            "status": AlertStatus.ACKNOWLEDGED.value,
            "acknowledged_by": r["acknowledged_by"],
            "acknowledged_at": iso_time(out.ts_us),
            "note": r["note"],
        },
    }


def _levels(levels: dict[int, int], reverse: bool) -> list[list[str]]:
    return [[cny(p), tonnes(levels[p])] for p in sorted(levels, reverse=reverse)]


def _on_trade_settled(core: Core, ev: TradeSettled, taker_sides: dict, msgs: list) -> None:
    """The trade with both parties for the regulators, a fill for each party."""
    trade_id = trade_id_for(ev.symbol, ev.trade_id)
    common = {
        "id": trade_id,
        "price": cny(ev.price_fen),
        "quantity": tonnes(ev.quantity_kg),
        "taker_side": taker_sides.get((ev.symbol, ev.trade_id)),
        "time": iso_time(ev.ts_us),
        "seq": ev.seq,
        "kind": CONTINUOUS,
    }
    buyer = core.registry.account(ev.buyer_account_id)
    seller = core.registry.account(ev.seller_account_id)
    regulator = dict(
        common,
        symbol=ev.symbol,
        cash=cny(ev.cash_fen),
        buyer=party(ev.buyer_account_id, buyer.name, buyer.city_code or None),
        seller=party(ev.seller_account_id, seller.name, seller.city_code or None),
    )
    _regulator(
        msgs,
        _msg("trade", ev.symbol, ev.seq, regulator),
        _cities(core, ev.buyer_account_id, ev.seller_account_id),
    )
    for account_id, side, order_id, fee in (
        (ev.buyer_account_id, BUY, ev.buyer_order_id, ev.buyer_fee_fen),
        (ev.seller_account_id, SELL, ev.seller_order_id, ev.seller_fee_fen),
    ):
        fill = dict(
            common,
            symbol=ev.symbol,
            order_id=str(order_id),
            side=side,
            cash=cny(ev.cash_fen),
            fee=cny(fee),
        )
        msgs.append((PRIVATE + account_id, _msg("fill", ev.symbol, ev.seq, fill)))


def _on_block_settled(core: Core, ev: BlockTradeSettled, _taker_sides: dict, msgs: list) -> None:
    """A block trade on the public tape and the regulator's feed, marked `kind: block`;
    it never touches the ticker, so no ticker message follows it."""
    public = {
        "id": ev.block_id,
        "price": cny(ev.price_fen),
        "quantity": tonnes(ev.quantity_kg),
        "taker_side": BUY,
        "time": iso_time(ev.ts_us),
        "seq": ev.seq,
        "kind": BLOCK,
    }
    buyer = core.registry.account(ev.buyer_account_id)
    seller = core.registry.account(ev.seller_account_id)
    regulator = dict(
        public,
        symbol=ev.symbol,
        cash=cny(ev.cash_fen),
        buyer=party(ev.buyer_account_id, buyer.name, buyer.city_code or None),
        seller=party(ev.seller_account_id, seller.name, seller.city_code or None),
    )
    msgs.append((MARKET + ev.symbol, _msg("trade", ev.symbol, ev.seq, public)))
    _regulator(
        msgs,
        _msg("trade", ev.symbol, ev.seq, regulator),
        _cities(core, ev.buyer_account_id, ev.seller_account_id),
    )


def _on_block_changed(core: Core, ev: BlockTradeChanged, _taker_sides: dict, msgs: list) -> None:
    """The block trade as it now stands, to both parties."""
    row = block_trade_row(core.registry.block_trade(ev.block_id))
    msg = _msg("block_trade", row["symbol"], ev.seq, block_trade_view(row))
    msgs.append((PRIVATE + row["seller_account_id"], msg))
    msgs.append((PRIVATE + row["buyer_account_id"], msg))


def _on_bid_changed(core: Core, ev: BidChanged, _taker_sides: dict, msgs: list) -> None:
    """The bid as it now stands, to its bidder."""
    bid = core.registry.bid(ev.bid_id)
    auction = core.registry.auction(bid.auction_id)
    cleared = auction.status == AuctionStatus.CLEARED
    data = {
        "id": bid.bid_id,
        "auction_id": bid.auction_id,
        "price": cny(bid.price_fen),
        "quantity": tonnes(bid.quantity_kg),
        "status": bid.status,
        "awarded_quantity": tonnes(bid.awarded_kg) if cleared else None,
        "seq": ev.seq,
    }
    msgs.append((PRIVATE + bid.account_id, _msg("bid", auction.symbol, ev.seq, data)))


def _on_auction_cleared(core: Core, ev: AuctionCleared, _taker_sides: dict, msgs: list) -> None:
    awards = []
    for bid_id, account_id, kg, cash, fee in ev.awards:
        account = core.registry.account(account_id)
        awards.append(
            {
                "bid_id": bid_id,
                "bidder": party(account_id, account.name, account.city_code or None),
                "awarded_quantity": tonnes(kg),
                "cash": cny(cash),
                "fee": cny(fee),
            }
        )
    data = {
        "id": ev.auction_id,
        "symbol": ev.symbol,
        "status": AuctionStatus.CLEARED.value,
        "quantity": tonnes(ev.offered_kg),
        "sold_quantity": tonnes(ev.sold_kg),
        "clearing_price": cny(ev.clearing_price_fen) if ev.sold_kg else None,
        "awards": awards,
        "time": iso_time(ev.ts_us),
        "seq": ev.seq,
    }
    # a bureau sees the result when one of its city's enterprises won quota
    _regulator(
        msgs,
        _msg("auction", ev.symbol, ev.seq, data),
        _cities(core, *(account_id for _, account_id, *_ in ev.awards)),
    )


_SETTLEMENT = {
    TradeSettled: _on_trade_settled,
    BlockTradeSettled: _on_block_settled,
    BlockTradeChanged: _on_block_changed,
    BidChanged: _on_bid_changed,
    AuctionCleared: _on_auction_cleared,
}


def _alert_msg(alert: dict, ordinal: int) -> dict:
    return {
        "type": "alert",
        "symbol": alert["symbol"],
        "core_seq": alert["seq"],
        "data": {
            "id": alert.get("id"),
            "kind": alert["kind"],
            "symbol": alert["symbol"],
            "account_id": alert["account_id"],
            "detail": alert["detail"],
            "time": iso_time(alert["ts_us"]),
            "seq": alert["seq"],
            "ordinal": ordinal,
            "status": AlertStatus.OPEN.value,
        },
    }
