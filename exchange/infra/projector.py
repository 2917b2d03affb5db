"""The read models, projected from a batch of core outcomes in two steps.

`collect` runs where the core is (the sequencer's thread, before the batch's journal
commit): it turns the batch's events, and the core's state after the batch, into
plain rows. `write` runs behind the commit (exchange.infra.projection): it writes those
rows, in seq order, in a transaction that also stores how far the tables have
got (`projection_progress`), so after a crash the projection resumes from the next
seq and a reader can wait until the tables show what it was acknowledged.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Table, bindparam, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from exchange.core import commands
from exchange.core.commands import trade_id_for
from exchange.core.market import CANDLE_WIDTH_US, CandleInterval, TradeKind
from exchange.core.regulation import AlertStatus
from exchange.core.state import Core, Outcome
from exchange.core.views import block_trade_row
from exchange.infra import monthly
from exchange.infra.db import market as market_tables
from exchange.infra.db import models
from exchange.infra.db import primary_market as primary_tables
from matching_engine.events import (
    BookLevelChanged,
    InstrumentAdded,
    MarketHalted,
    MarketResumed,
    ReferencePriceSet,
    SessionClosed,
    Trade,
)
from matching_engine.types import Side
from settlement import events as settlement_events
from settlement.accounts import RESERVE_ACCOUNT, RESERVE_SOURCE
from settlement.auctions import RESERVE_AUCTION
from settlement.reallocations import ApplicationStatus
from settlement.reductions import ClaimStatus

# Daily candles close at midnight in Guangdong (UTC+8, no daylight saving).
SHANGHAI_OFFSET_US = 8 * 3_600_000_000


def candle_bucket(ts_us: int, interval: str) -> int:
    width = CANDLE_WIDTH_US[interval]
    if interval == CandleInterval.D1:
        return (ts_us + SHANGHAI_OFFSET_US) // width * width - SHANGHAI_OFFSET_US
    return ts_us // width * width


def _upsert(conn: Connection, table: Table, rows: list[dict], keys: list[str]) -> None:
    """Insert `rows`, or update the row already there under the same `keys`."""
    if not rows:
        return
    conn.execute(_upsert_statement(conn.dialect.name, table, tuple(keys), tuple(rows[0])), rows)


# Built once per shape: `excluded` builds a column collection each time it is read, which
# took a third of the projector's time
_UPSERTS: dict[tuple, Any] = {}


def _upsert_statement(dialect_name: str, table: Table, keys: tuple, columns: tuple):
    shape = (dialect_name, table.name, keys, columns)
    stmt = _UPSERTS.get(shape)
    if stmt is None:
        dialect = sqlite if dialect_name == "sqlite" else postgresql
        stmt = dialect.insert(table)
        excluded = stmt.excluded
        stmt = _UPSERTS[shape] = stmt.on_conflict_do_update(
            index_elements=list(keys), set_={c: excluded[c] for c in columns if c not in keys}
        )
    return stmt


def _insert(conn: Connection, table: Table, rows: list[dict]) -> None:
    if rows:
        conn.execute(insert(table), rows)


def _update(conn: Connection, table: Table, rows: list[dict], key: str = "id") -> None:
    """Update the rows named by `key` with the other columns of each dict (all dicts of
    one call have the same keys), in order, in one executemany."""
    if not rows:
        return
    conn.execute(
        _update_statement(table, key, tuple(rows[0])),
        [{f"b_{c}": v for c, v in row.items()} for row in rows],
    )


_UPDATES: dict[tuple, Any] = {}


def _update_statement(table: Table, key: str, columns: tuple):
    shape = (table.name, key, columns)
    stmt = _UPDATES.get(shape)
    if stmt is None:
        # bind names must differ from the column names in an UPDATE's SET
        stmt = _UPDATES[shape] = (
            update(table)
            .where(table.c[key] == bindparam(f"b_{key}"))
            .values({c: bindparam(f"b_{c}") for c in columns if c != key})
        )
    return stmt


_progress = models.ProjectionProgress.__table__


def load_progress(conn: Connection) -> int:
    """The newest journal seq the read models show (0 for a new database)."""
    seq = conn.execute(select(_progress.c.seq).where(_progress.c.id == 1)).scalar()
    return seq or 0


def save_progress(conn: Connection, seq: int) -> None:
    _upsert(conn, _progress, [{"id": 1, "seq": seq}], ["id"])


class Projector:
    def __init__(self) -> None:
        # current candles, so each trade updates them without reading the table
        self._candles: dict[tuple[str, str, int], dict] = {}

    def reset(self) -> None:
        """Forget the cached candles: after a failed write they may hold what was
        rolled back; they are read from the table again when next needed."""
        self._candles.clear()

    def project(
        self, conn: Connection, core: Core, batch: list[tuple[Outcome, commands.Command]]
    ) -> None:
        """Collect and write at once (catching up, where the core is at the batch's end)."""
        self.write(conn, collect(core, batch))

    def write(self, conn: Connection, p: BatchRows) -> None:
        """Write one batch's rows on the caller's transaction (which never commits here).
        Batches are written in seq order; the rows are not changed, so a write that
        failed can be tried again with the same rows."""
        _write_instruments(conn, p)
        _write_accounts(conn, p)
        _write_registry(conn, p)
        _write_trading(conn, p)
        _write_projects(conn, p)
        _write_ledger(conn, p)
        _write_primary_market(conn, p)
        _write_levels(conn, p)
        self._write_candles(conn, p)
        _upsert(conn, market_tables.MarketSession.__table__, p.session_rows, ["symbol"])
        _write_alerts(conn, p)
        _write_regulation(conn, p)

    def _write_candles(self, conn: Connection, p: BatchRows) -> None:
        if not p.trades_for_candles:
            return
        table = models.Candle.__table__
        touched: dict[tuple[str, str, int], dict] = {}
        for ev, interval in p.trades_for_candles:
            key = (ev.symbol, interval, candle_bucket(ev.ts_us, interval))
            candle = self._candles.get(key)
            if candle is None:
                candle = _load_candle(conn, key) or {
                    "symbol": key[0],
                    "interval": interval,
                    "bucket_us": key[2],
                    "open_fen": ev.price_fen,
                    "high_fen": ev.price_fen,
                    "low_fen": ev.price_fen,
                    "close_fen": ev.price_fen,
                    "volume_kg": 0,
                    "last_seq": ev.seq,
                }
                # keep only the newest bucket per symbol and interval in memory
                for old in [c for c in self._candles if c[:2] == key[:2]]:
                    del self._candles[old]
                self._candles[key] = candle
            candle["high_fen"] = max(candle["high_fen"], ev.price_fen)
            candle["low_fen"] = min(candle["low_fen"], ev.price_fen)
            candle["close_fen"] = ev.price_fen
            candle["volume_kg"] += ev.quantity_kg
            candle["last_seq"] = ev.seq
            touched[key] = candle
        _upsert(
            conn, table, [dict(c) for c in touched.values()], ["symbol", "interval", "bucket_us"]
        )


# ---------------------------------------------------------------------- collect


def collect(core: Core, batch: list[tuple[Outcome, commands.Command]]) -> BatchRows:
    """The rows `batch` (each outcome with the command that produced it) makes the read
    models write, with the core's state after the batch where a row is whole."""
    p = BatchRows(core.last_seq)
    for out, command in batch:
        if out.error is not None and not out.expired:
            p.alerts.extend(enumerate(out.alerts))
            continue
        # a refused command that expired an instrument is projected for the expiry's
        # effects alone: nothing of its own kind happened
        accepted = out.error is None
        if accepted and out.kind == commands.OpenAccount.kind:
            p.credentials.append(
                {
                    "username": command.username,
                    "password_hash": command.password_hash,
                    "account_id": out.result["account_id"],
                    "role": command.role,
                    "city_code": command.city_code or None,
                }
            )
        for rec in out.orders:
            row = rec.to_dict()
            row["filled_value_fen"] = row.pop("filled_value")
            row["last_seq"] = out.seq
            p.orders[rec.id] = row
        p.alerts.extend(enumerate(out.alerts))
        if accepted and out.kind == commands.SubmitMonthly.kind:
            p.submissions.append((out, command))
        elif accepted and out.kind == commands.AcknowledgeAlert.kind:
            p.acks.append((out, command))
        taker_sides: dict = {}
        for ev in out.engine_events:
            _engine_event(p, ev, taker_sides)
        for ev in out.settlement_events:
            handler = _SETTLEMENT_HANDLERS.get(type(ev))
            if handler is not None:
                handler(p, ev, taker_sides)
    _collect_from_core(core, p)
    return p


def _engine_event(p: BatchRows, ev, taker_sides: dict) -> None:
    cls = type(ev)
    if cls is BookLevelChanged:
        p.levels[(ev.symbol, str(ev.side), ev.price_fen)] = (ev.quantity_kg, ev.seq)
        p.symbols.add(ev.symbol)
    elif cls is Trade:
        taker_sides[(ev.symbol, ev.trade_id)] = str(ev.taker_side)
        p.symbols.add(ev.symbol)
        for interval in CANDLE_WIDTH_US:
            p.trades_for_candles.append((ev, interval))
    elif cls in (
        InstrumentAdded,
        MarketHalted,
        MarketResumed,
        ReferencePriceSet,
        SessionClosed,
    ):
        p.symbols.add(ev.symbol)
        p.instruments.add(ev.symbol)


def _on_cash_posted(p: BatchRows, ev: settlement_events.CashPosted, taker_sides: dict) -> None:
    p.cash_postings.append(
        {
            "seq": ev.seq,
            "account_id": ev.account_id,
            "kind": ev.kind,
            "amount_fen": ev.amount_fen,
            "available_before_fen": ev.available_before_fen,
            "available_after_fen": ev.available_after_fen,
            "locked_before_fen": ev.locked_before_fen,
            "locked_after_fen": ev.locked_after_fen,
            "ref": ev.reference,
        }
    )
    p.account_cash[ev.account_id] = {
        "id": ev.account_id,
        "cash_available_fen": ev.available_after_fen,
        "cash_locked_fen": ev.locked_after_fen,
        "last_seq": ev.seq,
    }


def _on_allowance_posted(
    p: BatchRows, ev: settlement_events.AllowancePosted, taker_sides: dict
) -> None:
    p.allowance_postings.append(
        {
            "seq": ev.seq,
            "account_id": ev.account_id,
            "symbol": ev.symbol,
            "lot_id": ev.lot_id,
            "kind": ev.kind,
            "quantity_kg": ev.quantity_kg,
            "available_after_kg": ev.available_after_kg,
            "locked_after_kg": ev.locked_after_kg,
            "used_after_kg": ev.used_after_kg,
            "ref": ev.reference,
        }
    )
    p.holdings[(ev.account_id, ev.symbol)] = {
        "account_id": ev.account_id,
        "symbol": ev.symbol,
        "available_kg": ev.available_after_kg,
        "locked_kg": ev.locked_after_kg,
        "used_kg": ev.used_after_kg,
        "last_seq": ev.seq,
    }


def _on_trade_settled(p: BatchRows, ev: settlement_events.TradeSettled, taker_sides: dict) -> None:
    p.trades.append(
        {
            "id": trade_id_for(ev.symbol, ev.trade_id),
            "symbol": ev.symbol,
            "seq": ev.seq,
            "price_fen": ev.price_fen,
            "quantity_kg": ev.quantity_kg,
            "cash_fen": ev.cash_fen,
            "taker_side": taker_sides[(ev.symbol, ev.trade_id)],
            "buyer_account_id": ev.buyer_account_id,
            "seller_account_id": ev.seller_account_id,
            "buyer_order_id": ev.buyer_order_id,
            "seller_order_id": ev.seller_order_id,
            "buyer_fee_fen": ev.buyer_fee_fen,
            "seller_fee_fen": ev.seller_fee_fen,
            "buyer_city_code": ev.buyer_city_code or None,
            "seller_city_code": ev.seller_city_code or None,
            "ts_us": ev.ts_us,
        }
    )


def _on_account_opened(
    p: BatchRows, ev: settlement_events.AccountOpened, taker_sides: dict
) -> None:
    p.accounts_new.append(
        {
            "id": ev.account_id,
            "name": ev.name,
            "role": models.account_role(ev.role),
            "city_code": ev.city_code or None,
            "last_seq": ev.seq,
        }
    )


def _on_reduction_claimed(
    p: BatchRows, ev: settlement_events.ReductionClaimed, taker_sides: dict
) -> None:
    p.reductions_new.append(
        {
            "id": ev.claim_id,
            "account_id": ev.holder_account_id,
            "city_code": ev.city_code,
            "symbol": ev.symbol,
            "quantity_kg": ev.quantity_kg,
            "source_kind": ev.source_kind,
            "description": ev.description,
            "evidence": ev.evidence,
            "status": ClaimStatus.PENDING.value,
            "created_us": ev.ts_us,
            "last_seq": ev.seq,
        }
    )


def _on_reduction_verified(
    p: BatchRows, ev: settlement_events.ReductionVerified, taker_sides: dict
) -> None:
    p.reduction_updates.append(
        {
            "id": ev.claim_id,
            "status": (ClaimStatus.APPROVED if ev.approved else ClaimStatus.REJECTED).value,
            "approved_kg": ev.approved_kg if ev.approved else None,
            "method": ev.method or None,
            "note": ev.note or None,
            "verifier_account_id": ev.verifier_account_id,
            "lot_id": ev.lot_id or None,
            "decided_us": ev.ts_us,
            "last_seq": ev.seq,
        }
    )


def _on_lot_issued(p: BatchRows, ev: settlement_events.LotIssued, taker_sides: dict) -> None:
    p.lots.append(
        {
            "id": ev.lot_id,
            "reduction_id": ev.claim_id or None,
            "symbol": ev.symbol,
            "source_kind": ev.source_kind,
            "origin_city_code": ev.city_code,
            "origin_account_id": ev.origin_account_id,
            "quantity_kg": ev.quantity_kg,
            "issued_us": ev.ts_us,
            "last_seq": ev.seq,
        }
    )


def _on_project_registered(
    p: BatchRows, ev: settlement_events.ProjectRegistered, taker_sides: dict
) -> None:
    p.projects_new.append(
        {
            "id": ev.project_id,
            "owner_account_id": ev.owner_account_id,
            "name": ev.name,
            "city_code": ev.city_code,
            "priority_category": ev.priority_category,
            "symbol": ev.symbol,
            "required_kg": ev.required_kg,
            "allocated_kg": 0,
            "eia_reference": ev.eia_reference,
            "created_us": ev.ts_us,
            "last_seq": ev.seq,
        }
    )


def _on_project_allocated(
    p: BatchRows, ev: settlement_events.ProjectAllocated, taker_sides: dict
) -> None:
    p.project_allocated[ev.project_id] = (ev.allocated_after_kg, ev.seq)
    for src in ev.sources:
        p.project_sources.append(
            {
                "project_id": ev.project_id,
                "lot_id": src.lot_id,
                "reduction_id": src.reduction_id or None,
                "source_kind": src.source_kind,
                "origin_city_code": src.origin_city_code,
                "origin_account_id": src.origin_account_id,
                "quantity_kg": src.quantity_kg,
                "seq": ev.seq,
            }
        )


def _on_ledger_moved(p: BatchRows, ev: settlement_events.LedgerMoved, taker_sides: dict) -> None:
    p.ledger_movements.append(
        {
            "seq": ev.seq,
            "ts_us": ev.ts_us,
            "city_code": ev.city_code,
            "symbol": ev.symbol,
            "kind": ev.kind,
            "quantity_kg": ev.quantity_kg,
            "ref": ev.reference,
            "counterparty": ev.counterparty or None,
        }
    )
    row = p.ledger.get((ev.city_code, ev.symbol))
    if row is None:
        row = p.ledger[(ev.city_code, ev.symbol)] = {
            "city_code": ev.city_code,
            "symbol": ev.symbol,
            "added_kg": 0,
            "used_kg": 0,
            "transferred_in_kg": 0,
            "transferred_out_kg": 0,
            "last_seq": ev.seq,
        }
    row[f"{ev.kind}_kg"] += ev.quantity_kg
    row["last_seq"] = ev.seq


def _on_city_floor_set(p: BatchRows, ev: settlement_events.CityFloorSet, taker_sides: dict) -> None:
    p.floors[(ev.city_code, ev.symbol)] = {
        "city_code": ev.city_code,
        "symbol": ev.symbol,
        "quantity_kg": ev.quantity_kg,
        "last_seq": ev.seq,
    }


def _on_reallocation_applied(
    p: BatchRows, ev: settlement_events.ReallocationApplied, taker_sides: dict
) -> None:
    p.reallocations_new.append(
        {
            "id": ev.application_id,
            "bureau_account_id": ev.bureau_account_id,
            "city_code": ev.city_code,
            "project_id": ev.project_id,
            "symbol": ev.symbol,
            "quantity_kg": ev.quantity_kg,
            "reason": ev.reason,
            "priority_category": ev.priority_category,
            "status": ApplicationStatus.PENDING.value,
            "created_us": ev.ts_us,
            "last_seq": ev.seq,
        }
    )


def _on_auction_changed(
    p: BatchRows, ev: settlement_events.AuctionChanged, taker_sides: dict
) -> None:
    p.auctions.add(ev.auction_id)


def _on_bid_changed(p: BatchRows, ev: settlement_events.BidChanged, taker_sides: dict) -> None:
    p.bids.add(ev.bid_id)


def _on_block_trade_changed(
    p: BatchRows, ev: settlement_events.BlockTradeChanged, taker_sides: dict
) -> None:
    p.blocks.add(ev.block_id)


def _on_block_trade_settled(
    p: BatchRows, ev: settlement_events.BlockTradeSettled, taker_sides: dict
) -> None:
    p.trades.append(
        {
            "id": ev.block_id,
            "symbol": ev.symbol,
            "seq": ev.seq,
            "price_fen": ev.price_fen,
            "quantity_kg": ev.quantity_kg,
            "cash_fen": ev.cash_fen,
            # the buyer's acceptance is what makes it trade
            "taker_side": Side.BUY.value,
            "buyer_account_id": ev.buyer_account_id,
            "seller_account_id": ev.seller_account_id,
            "buyer_order_id": 0,
            "seller_order_id": 0,
            "buyer_fee_fen": ev.buyer_fee_fen,
            "seller_fee_fen": ev.seller_fee_fen,
            "buyer_city_code": ev.buyer_city_code or None,
            "seller_city_code": ev.seller_city_code or None,
            "ts_us": ev.ts_us,
            "kind": TradeKind.BLOCK.value,
        }
    )


def _on_lot_from_reserve(
    p: BatchRows, ev: settlement_events.LotFromReserve, taker_sides: dict
) -> None:
    p.lots.append(
        {
            "id": ev.lot_id,
            "reduction_id": None,
            "symbol": ev.symbol,
            "source_kind": RESERVE_AUCTION,
            "origin_city_code": RESERVE_SOURCE,
            "origin_account_id": RESERVE_ACCOUNT,
            "quantity_kg": ev.quantity_kg,
            "issued_us": ev.ts_us,
            "last_seq": ev.seq,
        }
    )


def _on_instrument_expired(
    p: BatchRows, ev: settlement_events.InstrumentExpired, taker_sides: dict
) -> None:
    p.expired[ev.symbol] = (ev.ts_us, ev.seq)


def _on_reallocation_decided(
    p: BatchRows, ev: settlement_events.ReallocationDecided, taker_sides: dict
) -> None:
    p.reallocation_updates.append(
        {
            "id": ev.application_id,
            "status": (
                ApplicationStatus.APPROVED if ev.approved else ApplicationStatus.REJECTED
            ).value,
            "sources": json.dumps([{"from": s, "quantity_kg": q} for s, q in ev.sources]),
            "note": ev.note or None,
            "decided_by": ev.decider_account_id,
            "decided_us": ev.ts_us,
            "last_seq": ev.seq,
        }
    )


# One small function per settlement event kind; an event kind not listed writes nothing.
_SETTLEMENT_HANDLERS: dict[type, Callable[[BatchRows, Any, dict], None]] = {
    settlement_events.CashPosted: _on_cash_posted,
    settlement_events.AllowancePosted: _on_allowance_posted,
    settlement_events.TradeSettled: _on_trade_settled,
    settlement_events.AccountOpened: _on_account_opened,
    settlement_events.ReductionClaimed: _on_reduction_claimed,
    settlement_events.ReductionVerified: _on_reduction_verified,
    settlement_events.LotIssued: _on_lot_issued,
    settlement_events.ProjectRegistered: _on_project_registered,
    settlement_events.ProjectAllocated: _on_project_allocated,
    settlement_events.LedgerMoved: _on_ledger_moved,
    settlement_events.CityFloorSet: _on_city_floor_set,
    settlement_events.ReallocationApplied: _on_reallocation_applied,
    settlement_events.AuctionChanged: _on_auction_changed,
    settlement_events.BidChanged: _on_bid_changed,
    settlement_events.BlockTradeChanged: _on_block_trade_changed,
    settlement_events.BlockTradeSettled: _on_block_trade_settled,
    settlement_events.LotFromReserve: _on_lot_from_reserve,
    settlement_events.InstrumentExpired: _on_instrument_expired,
    settlement_events.ReallocationDecided: _on_reallocation_decided,
}


def _collect_from_core(core: Core, p: BatchRows) -> None:
    """Rows written whole from the core's state after the batch: instruments, ledger
    totals, auctions, bids, block trades and market sessions."""
    last = core.last_seq
    engine = core.engine
    for symbol in sorted(p.instruments):
        inst = engine.instrument(symbol)
        p.instrument_rows.append(
            {
                "symbol": symbol,
                "pollutant": inst.pollutant,
                "vintage": inst.vintage,
                "tick_fen": inst.tick_fen,
                "lot_kg": inst.lot_kg,
                "reference_price_fen": inst.reference_price_fen,
                "band_bps": inst.band_bps,
                "status": str(inst.status),
                "last_seq": last,
                "valid_until": core.validity.get(symbol, (None,))[0],
            }
        )
    # absolute totals from the registry: a delta upsert would trip the CHECKs on insert
    for (city, symbol), row in p.ledger.items():
        now = core.registry.ledger_row(city, symbol)
        p.ledger_rows.append(
            {
                "city_code": city,
                "symbol": symbol,
                "added_kg": now.added,
                "used_kg": now.used,
                "transferred_in_kg": now.transferred_in,
                "transferred_out_kg": now.transferred_out,
                "last_seq": row["last_seq"],
            }
        )
    reg = core.registry
    for auction_id in sorted(p.auctions):
        a = reg.auction(auction_id)
        p.auction_rows.append(
            {
                "id": a.auction_id,
                "symbol": a.symbol,
                "quantity_kg": a.quantity_kg,
                "reserve_price_fen": a.reserve_price_fen,
                "bidder_cap_pct": a.bidder_cap_pct,
                "note": a.note,
                "status": a.status,
                "clearing_price_fen": a.clearing_price_fen or None,
                "sold_kg": a.sold_kg,
                "created_seq": a.opened_seq,
                "created_us": a.opened_us,
                "closed_us": a.closed_us or None,
                "last_seq": last,
            }
        )
    for bid_id in sorted(p.bids):
        b = reg.bid(bid_id)
        p.bid_rows.append(
            {
                "id": b.bid_id,
                "auction_id": b.auction_id,
                "account_id": b.account_id,
                "price_fen": b.price_fen,
                "quantity_kg": b.quantity_kg,
                "status": b.status,
                "awarded_kg": b.awarded_kg,
                "paid_fen": b.paid_fen,
                "fee_fen": b.fee_fen,
                "seq": b.seq,
                "created_us": b.placed_us,
                "last_seq": last,
            }
        )
    for block_id in sorted(p.blocks):
        p.block_rows.append({**block_trade_row(reg.block_trade(block_id)), "last_seq": last})
    for symbol in sorted(p.symbols):
        stats = core.stats.get(symbol)
        if stats is not None:
            row = stats.to_dict()
            row["last_seq"] = last
            p.session_rows.append(row)


# ---------------------------------------------------------------------- write


def _write_instruments(conn: Connection, p: BatchRows) -> None:
    table = models.Instrument.__table__
    _upsert(conn, table, p.instrument_rows, ["symbol"])
    _update(
        conn,
        table,
        [
            {"symbol": symbol, "expired_us": ts_us, "last_seq": seq}
            for symbol, (ts_us, seq) in p.expired.items()
        ],
        key="symbol",
    )


def _write_accounts(conn: Connection, p: BatchRows) -> None:
    _upsert(conn, models.Account.__table__, p.accounts_new, ["id"])
    _insert(conn, models.Credential.__table__, p.credentials)
    _update(conn, models.Account.__table__, list(p.account_cash.values()))
    _insert(conn, models.CashPosting.__table__, p.cash_postings)


def _write_registry(conn: Connection, p: BatchRows) -> None:
    _insert(conn, models.Reduction.__table__, p.reductions_new)
    for row in p.reduction_updates:
        # one at a time: the columns a decision sets are the same, but a batch may
        # hold several decisions on one claim, applied in order
        _update(conn, models.Reduction.__table__, [row])
    _insert(conn, models.Lot.__table__, p.lots)
    _upsert(conn, models.Holding.__table__, list(p.holdings.values()), ["account_id", "symbol"])
    _insert(conn, models.AllowancePosting.__table__, p.allowance_postings)


def _write_trading(conn: Connection, p: BatchRows) -> None:
    _upsert(conn, models.Order.__table__, list(p.orders.values()), ["id"])
    for row in p.trades:
        row.setdefault("kind", TradeKind.CONTINUOUS.value)
    _insert(conn, models.Trade.__table__, p.trades)


def _write_projects(conn: Connection, p: BatchRows) -> None:
    _insert(conn, models.Project.__table__, p.projects_new)
    _update(
        conn,
        models.Project.__table__,
        [
            {"id": project_id, "allocated_kg": allocated, "last_seq": seq}
            for project_id, (allocated, seq) in p.project_allocated.items()
        ],
    )
    _insert(conn, models.ProjectSource.__table__, p.project_sources)


def _write_ledger(conn: Connection, p: BatchRows) -> None:
    _insert(conn, models.LedgerMovement.__table__, p.ledger_movements)
    _upsert(conn, models.LedgerRow.__table__, p.ledger_rows, ["city_code", "symbol"])
    _upsert(conn, models.CityFloor.__table__, list(p.floors.values()), ["city_code", "symbol"])
    _insert(conn, models.Reallocation.__table__, p.reallocations_new)
    for row in p.reallocation_updates:
        _update(conn, models.Reallocation.__table__, [row])


def _write_primary_market(conn: Connection, p: BatchRows) -> None:
    # the auction before its bids, for the foreign key
    _upsert(conn, primary_tables.Auction.__table__, p.auction_rows, ["id"])
    _upsert(conn, primary_tables.AuctionBid.__table__, p.bid_rows, ["id"])
    _upsert(conn, primary_tables.BlockTrade.__table__, p.block_rows, ["id"])


def _write_levels(conn: Connection, p: BatchRows) -> None:
    if not p.levels:
        return
    table = market_tables.BookLevel.__table__
    gone = [k for k, (qty, _) in p.levels.items() if qty == 0]
    live = [
        {"symbol": s, "side": side, "price_fen": price, "quantity_kg": qty, "last_seq": seq}
        for (s, side, price), (qty, seq) in p.levels.items()
        if qty
    ]
    for symbol, side, price in gone:
        conn.execute(
            delete(table).where(
                table.c.symbol == symbol, table.c.side == side, table.c.price_fen == price
            )
        )
    _upsert(conn, table, live, ["symbol", "side", "price_fen"])


def _write_alerts(conn: Connection, p: BatchRows) -> None:
    if not p.alerts:
        return
    table = models.Alert.__table__
    ids = conn.execute(
        insert(table).returning(table.c.id, sort_by_parameter_order=True),
        [
            {
                "seq": a["seq"],
                "kind": a["kind"],
                "symbol": a["symbol"],
                "account_id": a["account_id"],
                "detail": json.dumps(a["detail"], sort_keys=True),
                "ts_us": a["ts_us"],
                "ordinal": ordinal,
            }
            for ordinal, a in p.alerts
        ],
    ).scalars()
    # the feeds name each new alert by the id the API acknowledges it by
    for (_, alert), alert_id in zip(p.alerts, ids, strict=True):
        alert["id"] = str(alert_id)


def _write_regulation(conn: Connection, p: BatchRows) -> None:
    # After the movements: a submission's month ended before its own stamp, so every
    # movement of the month has a smaller seq and is already written, in this batch
    # or before it; later ones are stamped after the month and never change it.
    for out, c in p.submissions:
        report = monthly.load_report(conn, c.city_code, c.symbol, c.month)
        conn.execute(
            insert(models.MonthlySubmission.__table__).values(
                city_code=c.city_code,
                symbol=c.symbol,
                month=c.month,
                version=out.result["version"],
                seq=out.seq,
                ts_us=out.ts_us,
                account_id=c.account_id,
                correction_reason=c.correction_reason or None,
                **monthly.figures(report),
            )
        )
    alerts = models.Alert.__table__
    for out, c in p.acks:
        conn.execute(
            update(alerts)
            .where(alerts.c.seq == c.alert_seq, alerts.c.ordinal == c.alert_ordinal)
            .values(
                status=AlertStatus.ACKNOWLEDGED.value,
                acknowledged_by=c.account_id,
                acknowledged_us=out.ts_us,
                ack_note=c.note,
            )
        )


def _load_candle(conn: Connection, key: tuple[str, str, int]) -> dict | None:
    table = models.Candle.__table__
    row = (
        conn.execute(
            table.select().where(
                table.c.symbol == key[0],
                table.c.interval == key[1],
                table.c.bucket_us == key[2],
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


class BatchRows:
    """What one batch will write, gathered before any SQL runs (`last_seq`: the seq of
    the batch's last command)."""

    def __init__(self, last_seq: int) -> None:
        self.last_seq = last_seq
        self.instruments: set[str] = set()
        self.symbols: set[str] = set()
        self.accounts_new: list[dict] = []
        self.credentials: list[dict] = []
        self.account_cash: dict[str, dict] = {}
        self.cash_postings: list[dict] = []
        self.holdings: dict[tuple[str, str], dict] = {}
        self.allowance_postings: list[dict] = []
        self.orders: dict[int, dict] = {}
        self.trades: list[dict] = []
        self.levels: dict[tuple[str, str, int], tuple[int, int]] = {}
        self.trades_for_candles: list = []
        self.reductions_new: list[dict] = []
        self.reduction_updates: list[dict] = []
        self.lots: list[dict] = []
        self.projects_new: list[dict] = []
        self.project_allocated: dict[str, tuple[int, int]] = {}
        self.project_sources: list[dict] = []
        self.ledger_movements: list[dict] = []
        self.ledger: dict[tuple[str, str], dict] = {}
        self.floors: dict[tuple[str, str], dict] = {}
        self.reallocations_new: list[dict] = []
        self.reallocation_updates: list[dict] = []
        # (ordinal within its command, alert)
        self.alerts: list[tuple[int, dict]] = []
        self.submissions: list[tuple[Outcome, commands.Command]] = []
        self.acks: list[tuple[Outcome, commands.Command]] = []
        self.auctions: set[str] = set()
        self.bids: set[str] = set()
        self.blocks: set[str] = set()
        self.expired: dict[str, tuple[int, int]] = {}
        # whole rows read from the core after the batch
        self.instrument_rows: list[dict] = []
        self.ledger_rows: list[dict] = []
        self.auction_rows: list[dict] = []
        self.bid_rows: list[dict] = []
        self.block_rows: list[dict] = []
        self.session_rows: list[dict] = []

    @classmethod
    def merged(cls, batches: list[BatchRows]) -> BatchRows:
        """The rows of consecutive batches as one batch, written with one statement per
        table instead of one per table and batch. Appended rows (postings, trades,
        movements, alerts) keep their order; a row kept whole (an order, a holding, a
        book level, a ledger total) is the newest batch's. The batches are not changed."""
        if len(batches) == 1:
            return batches[0]
        out = cls(batches[-1].last_seq)
        keyed: dict[str, dict] = {name: {} for name in _KEYED}
        for batch in batches:
            for name, value in vars(batch).items():
                if name == "last_seq":
                    continue
                if name in keyed:
                    columns = _KEYED[name]
                    for row in value:
                        keyed[name][tuple(row[c] for c in columns)] = row
                elif isinstance(value, list):
                    getattr(out, name).extend(value)
                else:  # a dict (newest wins) or a set
                    getattr(out, name).update(value)
        for name, rows in keyed.items():
            setattr(out, name, list(rows.values()))
        return out


# BatchRows' lists of whole rows read from the core, and the columns naming each row:
# of several batches, the newest row stands
_KEYED = {
    "instrument_rows": ("symbol",),
    "ledger_rows": ("city_code", "symbol"),
    "auction_rows": ("id",),
    "bid_rows": ("id",),
    "block_rows": ("id",),
    "session_rows": ("symbol",),
}
