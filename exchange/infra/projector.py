"""Writes the read models from a batch of core outcomes, in the same
transaction as the batch's journal entries.

Because journal and read models commit together, the tables always show
exactly the journal's prefix: after a crash nothing needs re-projecting.
"""

from __future__ import annotations

import json

from sqlalchemy import Connection, Table, bindparam, delete, insert, update
from sqlalchemy.dialects import postgresql, sqlite

from exchange.core import commands
from exchange.core.commands import trade_id_for
from exchange.core.state import Core, Outcome
from exchange.core.views import block_trade_row
from exchange.infra import monthly
from exchange.infra.db import market as mm
from exchange.infra.db import models as m
from exchange.infra.db import primary_market as pm
from matching_engine.events import (
    BookLevelChanged,
    InstrumentAdded,
    MarketHalted,
    MarketResumed,
    ReferencePriceSet,
    SessionClosed,
    Trade,
)
from settlement import events as settlement_events

LOGIN_ROLES = frozenset({"enterprise", "city_bureau", "province", "operator"})
CANDLE_INTERVALS_US = {
    "1m": 60_000_000,
    "5m": 300_000_000,
    "1h": 3_600_000_000,
    "1d": 86_400_000_000,
}
# Daily candles close at midnight in Guangdong (UTC+8, no daylight saving).
SHANGHAI_OFFSET_US = 8 * 3_600_000_000


def candle_bucket(ts_us: int, interval: str) -> int:
    width = CANDLE_INTERVALS_US[interval]
    if interval == "1d":
        return (ts_us + SHANGHAI_OFFSET_US) // width * width - SHANGHAI_OFFSET_US
    return ts_us // width * width


def _upsert(conn: Connection, table: Table, rows: list[dict], keys: list[str]) -> None:
    if not rows:
        return
    dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
    stmt = dialect.insert(table)
    changing = [c for c in rows[0] if c not in keys]
    stmt = stmt.on_conflict_do_update(
        index_elements=keys, set_={c: stmt.excluded[c] for c in changing}
    )
    conn.execute(stmt, rows)


class Projector:
    def __init__(self) -> None:
        # current candles, so each trade updates them without reading the table
        self._candles: dict[tuple[str, str, int], dict] = {}

    def project(
        self, conn: Connection, core: Core, batch: list[tuple[Outcome, commands.Command]]
    ) -> None:
        """`batch` pairs each outcome with the command that produced it."""
        p = _BatchRows()
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
            taker_sides = {}
            for ev in out.engine_events:
                self._engine_event(p, ev, taker_sides)
            for ev in out.settlement_events:
                self._settlement_event(p, ev, taker_sides)
        self._write(conn, core, p)

    # ------------------------------------------------------------------ events
    def _engine_event(self, p: _BatchRows, ev, taker_sides: dict) -> None:
        cls = type(ev)
        if cls is BookLevelChanged:
            p.levels[(ev.symbol, str(ev.side), ev.price_fen)] = (ev.quantity_kg, ev.seq)
            p.symbols.add(ev.symbol)
        elif cls is Trade:
            taker_sides[(ev.symbol, ev.trade_id)] = str(ev.taker_side)
            p.symbols.add(ev.symbol)
            for interval in CANDLE_INTERVALS_US:
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

    def _settlement_event(self, p: _BatchRows, ev, taker_sides: dict) -> None:
        cls = type(ev)
        if cls is settlement_events.CashPosted:
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
        elif cls is settlement_events.AllowancePosted:
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
        elif cls is settlement_events.TradeSettled:
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
        elif cls is settlement_events.AccountOpened:
            p.accounts_new.append(
                {
                    "id": ev.account_id,
                    "name": ev.name,
                    "role": ev.role if ev.role in LOGIN_ROLES else "system",
                    "city_code": ev.city_code or None,
                    "last_seq": ev.seq,
                }
            )
        elif cls is settlement_events.ReductionClaimed:
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
                    "status": "pending",
                    "created_us": ev.ts_us,
                    "last_seq": ev.seq,
                }
            )
        elif cls is settlement_events.ReductionVerified:
            p.reduction_updates.append(
                {
                    "claim_id": ev.claim_id,
                    "status": "approved" if ev.approved else "rejected",
                    "approved_kg": ev.approved_kg if ev.approved else None,
                    "method": ev.method or None,
                    "note": ev.note or None,
                    "verifier_account_id": ev.verifier_account_id,
                    "lot_id": ev.lot_id or None,
                    "decided_us": ev.ts_us,
                    "last_seq": ev.seq,
                }
            )
        elif cls is settlement_events.LotIssued:
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
        elif cls is settlement_events.ProjectRegistered:
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
        elif cls is settlement_events.ProjectAllocated:
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
        elif cls is settlement_events.LedgerMoved:
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
        elif cls is settlement_events.CityFloorSet:
            p.floors[(ev.city_code, ev.symbol)] = {
                "city_code": ev.city_code,
                "symbol": ev.symbol,
                "quantity_kg": ev.quantity_kg,
                "last_seq": ev.seq,
            }
        elif cls is settlement_events.ReallocationApplied:
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
                    "status": "pending",
                    "created_us": ev.ts_us,
                    "last_seq": ev.seq,
                }
            )
        elif cls is settlement_events.AuctionChanged:
            p.auctions.add(ev.auction_id)
        elif cls is settlement_events.BidChanged:
            p.bids.add(ev.bid_id)
        elif cls is settlement_events.BlockTradeChanged:
            p.blocks.add(ev.block_id)
        elif cls is settlement_events.BlockTradeSettled:
            p.trades.append(
                {
                    "id": ev.block_id,
                    "symbol": ev.symbol,
                    "seq": ev.seq,
                    "price_fen": ev.price_fen,
                    "quantity_kg": ev.quantity_kg,
                    "cash_fen": ev.cash_fen,
                    # the buyer's acceptance is what makes it trade
                    "taker_side": "buy",
                    "buyer_account_id": ev.buyer_account_id,
                    "seller_account_id": ev.seller_account_id,
                    "buyer_order_id": 0,
                    "seller_order_id": 0,
                    "buyer_fee_fen": ev.buyer_fee_fen,
                    "seller_fee_fen": ev.seller_fee_fen,
                    "buyer_city_code": ev.buyer_city_code or None,
                    "seller_city_code": ev.seller_city_code or None,
                    "ts_us": ev.ts_us,
                    "kind": "block",
                }
            )
        elif cls is settlement_events.LotFromReserve:
            p.lots.append(
                {
                    "id": ev.lot_id,
                    "reduction_id": None,
                    "symbol": ev.symbol,
                    "source_kind": "reserve_auction",
                    "origin_city_code": "reserve",
                    "origin_account_id": "RESERVE",
                    "quantity_kg": ev.quantity_kg,
                    "issued_us": ev.ts_us,
                    "last_seq": ev.seq,
                }
            )
        elif cls is settlement_events.InstrumentExpired:
            p.expired[ev.symbol] = (ev.ts_us, ev.seq)
        elif cls is settlement_events.ReallocationDecided:
            p.reallocation_updates.append(
                {
                    "application_id": ev.application_id,
                    "status": "approved" if ev.approved else "rejected",
                    "sources": json.dumps([{"from": s, "quantity_kg": q} for s, q in ev.sources]),
                    "note": ev.note or None,
                    "decided_by": ev.decider_account_id,
                    "decided_us": ev.ts_us,
                    "last_seq": ev.seq,
                }
            )

    # ------------------------------------------------------------------ write
    def _write(self, conn: Connection, core: Core, p: _BatchRows) -> None:
        engine = core.engine
        if p.instruments:
            rows = []
            for symbol in sorted(p.instruments):
                inst = engine.instrument(symbol)
                rows.append(
                    {
                        "symbol": symbol,
                        "pollutant": inst.pollutant,
                        "vintage": inst.vintage,
                        "tick_fen": inst.tick_fen,
                        "lot_kg": inst.lot_kg,
                        "reference_price_fen": inst.reference_price_fen,
                        "band_bps": inst.band_bps,
                        "status": str(inst.status),
                        "last_seq": core.last_seq,
                        "valid_until": core.validity.get(symbol, (None,))[0],
                    }
                )
            _upsert(conn, m.Instrument.__table__, rows, ["symbol"])
        for symbol, (ts_us, seq) in p.expired.items():
            table = m.Instrument.__table__
            conn.execute(
                update(table).where(table.c.symbol == symbol).values(expired_us=ts_us, last_seq=seq)
            )
        _upsert(conn, m.Account.__table__, p.accounts_new, ["id"])
        if p.credentials:
            conn.execute(insert(m.Credential.__table__), p.credentials)
        if p.account_cash:
            conn.execute(
                update(m.Account.__table__)
                .where(m.Account.__table__.c.id == bindparam("b_id"))
                .values(
                    cash_available_fen=bindparam("b_available"),
                    cash_locked_fen=bindparam("b_locked"),
                    last_seq=bindparam("b_seq"),
                ),
                [
                    {
                        "b_id": r["id"],
                        "b_available": r["cash_available_fen"],
                        "b_locked": r["cash_locked_fen"],
                        "b_seq": r["last_seq"],
                    }
                    for r in p.account_cash.values()
                ],
            )
        if p.cash_postings:
            conn.execute(insert(m.CashPosting.__table__), p.cash_postings)
        if p.reductions_new:
            conn.execute(insert(m.Reduction.__table__), p.reductions_new)
        for row in p.reduction_updates:
            claim_id = row.pop("claim_id")
            conn.execute(
                update(m.Reduction.__table__)
                .where(m.Reduction.__table__.c.id == claim_id)
                .values(**row)
            )
        if p.lots:
            conn.execute(insert(m.Lot.__table__), p.lots)
        _upsert(conn, m.Holding.__table__, list(p.holdings.values()), ["account_id", "symbol"])
        if p.allowance_postings:
            conn.execute(insert(m.AllowancePosting.__table__), p.allowance_postings)
        _upsert(conn, m.Order.__table__, list(p.orders.values()), ["id"])
        if p.trades:
            for row in p.trades:
                row.setdefault("kind", "continuous")
            conn.execute(insert(m.Trade.__table__), p.trades)
        if p.projects_new:
            conn.execute(insert(m.Project.__table__), p.projects_new)
        for project_id, (allocated, seq) in p.project_allocated.items():
            conn.execute(
                update(m.Project.__table__)
                .where(m.Project.__table__.c.id == project_id)
                .values(allocated_kg=allocated, last_seq=seq)
            )
        if p.project_sources:
            conn.execute(insert(m.ProjectSource.__table__), p.project_sources)
        if p.ledger_movements:
            conn.execute(insert(m.LedgerMovement.__table__), p.ledger_movements)
        # absolute totals from the registry: a delta upsert would trip the CHECKs on insert
        ledger_rows = []
        for (city, symbol), row in p.ledger.items():
            now = core.registry.ledger_row(city, symbol)
            ledger_rows.append(
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
        _upsert(conn, m.LedgerRow.__table__, ledger_rows, ["city_code", "symbol"])
        _upsert(conn, m.CityFloor.__table__, list(p.floors.values()), ["city_code", "symbol"])
        if p.reallocations_new:
            conn.execute(insert(m.Reallocation.__table__), p.reallocations_new)
        for row in p.reallocation_updates:
            application_id = row.pop("application_id")
            conn.execute(
                update(m.Reallocation.__table__)
                .where(m.Reallocation.__table__.c.id == application_id)
                .values(**row)
            )
        self._write_primary_market(conn, core, p)
        self._write_levels(conn, p)
        self._write_candles(conn, p)
        if p.symbols:
            rows = []
            for symbol in sorted(p.symbols):
                stats = core.stats.get(symbol)
                if stats is not None:
                    row = stats.to_dict()
                    row["last_seq"] = core.last_seq
                    rows.append(row)
            _upsert(conn, mm.MarketSession.__table__, rows, ["symbol"])
        if p.alerts:
            table = m.Alert.__table__
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
        self._write_regulation(conn, p)

    @staticmethod
    def _write_regulation(conn: Connection, p: _BatchRows) -> None:
        # After the movements: a submission's month ended before its own stamp, so every
        # movement of the month has a smaller seq and is already written, in this batch
        # or before it; later ones are stamped after the month and never change it.
        for out, c in p.submissions:
            report = monthly.load_report(conn, c.city_code, c.symbol, c.month)
            conn.execute(
                insert(m.MonthlySubmission.__table__).values(
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
        alerts = m.Alert.__table__
        for out, c in p.acks:
            conn.execute(
                update(alerts)
                .where(alerts.c.seq == c.alert_seq, alerts.c.ordinal == c.alert_ordinal)
                .values(
                    status="acknowledged",
                    acknowledged_by=c.account_id,
                    acknowledged_us=out.ts_us,
                    ack_note=c.note,
                )
            )

    def _write_primary_market(self, conn: Connection, core: Core, p: _BatchRows) -> None:
        """Auctions, bids and block trades as they stand after the batch, read from the
        registry (every row is whole; the auction before its bids, for the foreign key)."""
        reg = core.registry
        last = core.last_seq
        if p.auctions:
            rows = []
            for auction_id in sorted(p.auctions):
                a = reg.auction(auction_id)
                rows.append(
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
            _upsert(conn, pm.Auction.__table__, rows, ["id"])
        if p.bids:
            rows = []
            for bid_id in sorted(p.bids):
                b = reg.bid(bid_id)
                rows.append(
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
            _upsert(conn, pm.AuctionBid.__table__, rows, ["id"])
        if p.blocks:
            rows = []
            for block_id in sorted(p.blocks):
                rows.append({**block_trade_row(reg.block_trade(block_id)), "last_seq": last})
            _upsert(conn, pm.BlockTrade.__table__, rows, ["id"])

    def _write_levels(self, conn: Connection, p: _BatchRows) -> None:
        if not p.levels:
            return
        table = mm.BookLevel.__table__
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

    def _write_candles(self, conn: Connection, p: _BatchRows) -> None:
        if not p.trades_for_candles:
            return
        table = m.Candle.__table__
        touched: dict[tuple[str, str, int], dict] = {}
        for ev, interval in p.trades_for_candles:
            key = (ev.symbol, interval, candle_bucket(ev.ts_us, interval))
            candle = self._candles.get(key)
            if candle is None:
                candle = self._load_candle(conn, key) or {
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

    @staticmethod
    def _load_candle(conn: Connection, key: tuple[str, str, int]) -> dict | None:
        table = m.Candle.__table__
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


class _BatchRows:
    """What one batch will write, gathered before any SQL runs."""

    def __init__(self) -> None:
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
