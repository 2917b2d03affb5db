"""Test helper (named uniquely: test directories here are not packages).

A registry wired to a real matching engine the way the service core wires them:
check_order / check_amend (with the rounding reserve of a buy that can trade at once),
then the engine, then apply_engine_events, then shrinking any order left short."""

from __future__ import annotations

from matching_engine.commands import (
    AddInstrument,
    AmendOrder,
    CancelOrder,
    CloseSession,
    HaltMarket,
    PlaceOrder,
)
from matching_engine.engine import MatchingEngine
from matching_engine.types import BUY, GTC, LIMIT, MARKET, CancelReason, OrderType, TimeInForce
from settlement import commands
from settlement.pricing import rounding_reserve_fen
from settlement.registry import Registry

SYMBOL = "NOX-2025"
GZ, SZ, FS = "440100", "440300", "440600"  # Guangzhou, Shenzhen, Foshan
REFERENCE_FEN = 300_000  # 3000.00 CNY per tonne


class World:
    def __init__(self, fee_bps: int = 0, lot_kg: int = 1, band_bps: int = 5_000) -> None:
        self.reg = Registry(fee_bps=fee_bps)
        self.engine = MatchingEngine()
        self.lot_kg = lot_kg
        self.seq = 0
        self.events: list = []
        self.shrunk: list[tuple[int, int]] = []  # (order_id, kg kept) the world shrank
        self.cmd(commands.ListInstrument, SYMBOL, "NOx", 2025, lot_kg)
        self.seq += 1
        self.apply(
            self.engine.process(
                AddInstrument(
                    self.seq, self.ts(), SYMBOL, "NOx", 2025, 1, lot_kg, REFERENCE_FEN, band_bps
                )
            )
        )
        self.cmd(commands.OpenAccount, "PROV", "Provincial department", "province", "")

    def ts(self) -> int:
        return 1_722_441_600_000_000 + self.seq * 1_000_000  # from 2024-08-01 UTC

    def cmd(self, cls, *args):
        self.seq += 1
        events = self.reg.handle(cls(self.seq, self.ts(), *args))
        self.reg.check_invariants()
        self.events += events
        return events

    def apply(self, engine_events, reserves=None):
        events = self.reg.apply_engine_events(engine_events, reserves)
        # As the core does: an order left short is reduced to what its hold covers,
        # or cancelled, in the same step.
        for order_id, kg in self.reg.take_shortfalls():
            self.shrunk.append((order_id, kg))
            owner = self.reg.hold(order_id).account_id
            if kg:
                cmd = AmendOrder(self.seq, self.ts(), SYMBOL, order_id, owner, kg, None)
            else:
                cmd = CancelOrder(
                    self.seq, self.ts(), SYMBOL, order_id, owner, CancelReason.INSUFFICIENT_FUNDS
                )
            events += self.reg.apply_engine_events(self.engine.process(cmd))
        self.reg.check_invariants()
        self.events += events
        return events

    def reserve(self, side, limit_fen, qty_kg) -> int:
        """The rounding reserve the core adds for a buy that can trade at once."""
        if side != BUY:
            return 0
        cap = -(-qty_kg // self.lot_kg)
        return rounding_reserve_fen(self.engine.crossable_orders(SYMBOL, BUY, limit_fen, cap))

    # ------------------------------------------------------------ parties

    def enterprise(self, account_id: str, city: str = GZ, cash_fen: int = 0) -> str:
        self.cmd(commands.OpenAccount, account_id, f"{account_id} Co.", "enterprise", city)
        if cash_fen:
            self.cmd(commands.Deposit, account_id, cash_fen)
        return account_id

    def bureau(self, account_id: str, city: str) -> str:
        self.cmd(commands.OpenAccount, account_id, f"{city} bureau", "city_bureau", city)
        return account_id

    def issue(self, claimant: str, kg: int, source_kind: str = "deep_treatment") -> str:
        """Claims and has the province approve `kg`; returns the lot id."""
        claim_id, lot_id = f"RED-{self.seq + 1}", f"LOT-{self.seq + 1}"
        self.cmd(
            commands.ClaimReduction, claim_id, claimant, SYMBOL, kg, source_kind, "desc", "evid"
        )
        self.cmd(
            commands.VerifyReduction, claim_id, "PROV", True, kg, "online_monitoring", "", lot_id
        )
        return lot_id

    # ------------------------------------------------------------ trading

    def place(self, owner, side, price_fen, qty_kg, tif=GTC, order_type=LIMIT):
        """Returns (order_id, registry events)."""
        order_type, tif = OrderType(order_type), TimeInForce(tif)
        lock_price = price_fen
        if order_type is MARKET:
            lock_price = self.engine.instrument(SYMBOL).band()[1]
        reserve = self.reserve(side, lock_price, qty_kg)
        self.reg.check_order(owner, SYMBOL, str(side), lock_price, qty_kg, reserve)
        self.seq += 1
        cmd = PlaceOrder(
            self.seq, self.ts(), SYMBOL, self.seq, owner, side, order_type, price_fen, qty_kg, tif
        )
        return self.seq, self.apply(self.engine.process(cmd), {self.seq: reserve})

    def cancel(self, order_id, owner):
        self.seq += 1
        return self.apply(
            self.engine.process(CancelOrder(self.seq, self.ts(), SYMBOL, order_id, owner))
        )

    def amend(self, order_id, owner, quantity_kg=None, price_fen=None):
        hold = self.reg.hold(order_id)
        reserve = 0
        if hold is not None and price_fen is not None:
            qty = hold.remaining_kg if quantity_kg is None else quantity_kg
            reserve = self.reserve(hold.side, price_fen, qty)
        self.reg.check_amend(order_id, price_fen, quantity_kg, reserve)
        self.seq += 1
        cmd = AmendOrder(self.seq, self.ts(), SYMBOL, order_id, owner, quantity_kg, price_fen)
        return self.apply(self.engine.process(cmd), {order_id: reserve})

    def close_session(self):
        self.seq += 1
        return self.apply(self.engine.process(CloseSession(self.seq, self.ts(), SYMBOL)))

    def halt(self, cancel_orders: bool):
        self.seq += 1
        return self.apply(
            self.engine.process(HaltMarket(self.seq, self.ts(), SYMBOL, cancel_orders))
        )

    def of(self, event_type):
        return [e for e in self.events if type(e) is event_type]
