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


def messages_for(core: Core, outcomes: list[Outcome]) -> list[tuple[str, dict]]:
    msgs: list[tuple[str, dict]] = []
    for out in outcomes:
        if out.error is not None and not out.expired:
            _alert_msgs(core, out, msgs)
            continue
        book: dict[str, dict[str, dict[int, int]]] = {}
        traded_symbols: list[str] = []
        taker_sides: dict[tuple[str, int], str] = {}
        for ev in out.engine_events:
            cls = type(ev)
            if cls is BookLevelChanged:
                book.setdefault(ev.symbol, {"buy": {}, "sell": {}})[str(ev.side)][ev.price_fen] = (
                    ev.quantity_kg
                )
            elif cls is Trade:
                taker_sides[(ev.symbol, ev.trade_id)] = str(ev.taker_side)
                trade_id = trade_id_for(ev.symbol, ev.trade_id)
                msgs.append(
                    (
                        MARKET + ev.symbol,
                        {
                            "type": "trade",
                            "symbol": ev.symbol,
                            "core_seq": ev.seq,
                            "data": {
                                "id": trade_id,
                                "price": cny(ev.price_fen),
                                "quantity": tonnes(ev.quantity_kg),
                                "taker_side": str(ev.taker_side),
                                "time": iso_time(ev.ts_us),
                                "seq": ev.seq,
                                "kind": "continuous",
                            },
                        },
                    )
                )
                if ev.symbol not in traded_symbols:
                    traded_symbols.append(ev.symbol)
        for symbol, sides in book.items():
            data = {"snapshot": False, "book_seq": out.seq}
            if sides["buy"]:
                data["bids"] = _levels(sides["buy"], reverse=True)
            if sides["sell"]:
                data["asks"] = _levels(sides["sell"], reverse=False)
            msgs.append(
                (
                    MARKET + symbol,
                    {"type": "book", "symbol": symbol, "core_seq": out.seq, "data": data},
                )
            )
        for symbol in traded_symbols:
            stats = core.stats[symbol].to_dict()
            msgs.append(
                (
                    MARKET + symbol,
                    {
                        "type": "ticker",
                        "symbol": symbol,
                        "core_seq": out.seq,
                        "data": ticker_view(stats),
                    },
                )
            )
        for ev in out.settlement_events:
            cls = type(ev)
            if cls is TradeSettled:
                msgs.extend(_settled_msgs(core, ev, taker_sides))
            elif cls is BlockTradeSettled:
                msgs.extend(_block_settled_msgs(core, ev))
            elif cls is BlockTradeChanged:
                msgs.extend(_block_msgs(core, ev))
            elif cls is BidChanged:
                msgs.append(_bid_msg(core, ev))
            elif cls is AuctionCleared:
                _auction_msgs(core, ev, msgs)
        for rec in out.orders:
            msgs.append(
                (
                    PRIVATE + rec.account_id,
                    {
                        "type": "order",
                        "symbol": rec.symbol,
                        "core_seq": out.seq,
                        "data": order_view(record_row(rec)),
                    },
                )
            )
        _alert_msgs(core, out, msgs)
        if out.kind == AcknowledgeAlert.kind:
            _regulator(msgs, _ack_msg(out), _cities(core, out.result["alert_account_id"]))
    return msgs


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
            "status": "acknowledged",
            "acknowledged_by": r["acknowledged_by"],
            "acknowledged_at": iso_time(out.ts_us),
            "note": r["note"],
        },
    }


def _levels(levels: dict[int, int], reverse: bool) -> list[list[str]]:
    return [[cny(p), tonnes(levels[p])] for p in sorted(levels, reverse=reverse)]


def _settled_msgs(core: Core, ev: TradeSettled, taker_sides: dict) -> list[tuple[str, dict]]:
    trade_id = trade_id_for(ev.symbol, ev.trade_id)
    common = {
        "id": trade_id,
        "price": cny(ev.price_fen),
        "quantity": tonnes(ev.quantity_kg),
        "taker_side": taker_sides.get((ev.symbol, ev.trade_id)),
        "time": iso_time(ev.ts_us),
        "seq": ev.seq,
        "kind": "continuous",
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
    msgs: list[tuple[str, dict]] = []
    _regulator(
        msgs,
        {"type": "trade", "symbol": ev.symbol, "core_seq": ev.seq, "data": regulator},
        _cities(core, ev.buyer_account_id, ev.seller_account_id),
    )
    for account_id, side, order_id, fee in (
        (ev.buyer_account_id, "buy", ev.buyer_order_id, ev.buyer_fee_fen),
        (ev.seller_account_id, "sell", ev.seller_order_id, ev.seller_fee_fen),
    ):
        fill = dict(
            common,
            symbol=ev.symbol,
            order_id=str(order_id),
            side=side,
            cash=cny(ev.cash_fen),
            fee=cny(fee),
        )
        msgs.append(
            (
                PRIVATE + account_id,
                {"type": "fill", "symbol": ev.symbol, "core_seq": ev.seq, "data": fill},
            )
        )
    return msgs


def _block_settled_msgs(core: Core, ev: BlockTradeSettled) -> list[tuple[str, dict]]:
    """A block trade on the public tape and the regulator's feed, marked `kind: block`;
    it never touches the ticker, so no ticker message follows it."""
    public = {
        "id": ev.block_id,
        "price": cny(ev.price_fen),
        "quantity": tonnes(ev.quantity_kg),
        "taker_side": "buy",
        "time": iso_time(ev.ts_us),
        "seq": ev.seq,
        "kind": "block",
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
    msgs: list[tuple[str, dict]] = [
        (
            MARKET + ev.symbol,
            {"type": "trade", "symbol": ev.symbol, "core_seq": ev.seq, "data": public},
        )
    ]
    _regulator(
        msgs,
        {"type": "trade", "symbol": ev.symbol, "core_seq": ev.seq, "data": regulator},
        _cities(core, ev.buyer_account_id, ev.seller_account_id),
    )
    return msgs


def _block_msgs(core: Core, ev: BlockTradeChanged) -> list[tuple[str, dict]]:
    row = block_trade_row(core.registry.block_trade(ev.block_id))
    msg = {
        "type": "block_trade",
        "symbol": row["symbol"],
        "core_seq": ev.seq,
        "data": block_trade_view(row),
    }
    return [(PRIVATE + row["seller_account_id"], msg), (PRIVATE + row["buyer_account_id"], msg)]


def _bid_msg(core: Core, ev: BidChanged) -> tuple[str, dict]:
    bid = core.registry.bid(ev.bid_id)
    auction = core.registry.auction(bid.auction_id)
    data = {
        "id": bid.bid_id,
        "auction_id": bid.auction_id,
        "price": cny(bid.price_fen),
        "quantity": tonnes(bid.quantity_kg),
        "status": bid.status,
        "awarded_quantity": tonnes(bid.awarded_kg) if auction.status == "cleared" else None,
        "seq": ev.seq,
    }
    return (
        PRIVATE + bid.account_id,
        {"type": "bid", "symbol": auction.symbol, "core_seq": ev.seq, "data": data},
    )


def _auction_msgs(core: Core, ev: AuctionCleared, msgs: list) -> None:
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
        "status": "cleared",
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
        {"type": "auction", "symbol": ev.symbol, "core_seq": ev.seq, "data": data},
        _cities(core, *(account_id for _, account_id, *_ in ev.awards)),
    )


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
            "status": "open",
        },
    }
