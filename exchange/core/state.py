"""The core: applies one sequenced command to the engine and the registry.

It never reads a clock and never does I/O; `apply` is a pure function of the
previous state and the command, which is what makes the journal replayable.
A refused command changes nothing and comes back as an error code.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import asdict, dataclass, field, fields

from exchange.core import commands
from exchange.core.client_orders import ClientOrderIds
from exchange.core.market import EXPIRED, SessionStats
from exchange.core.orders import (
    OrderRecord,
    apply_amend,
    apply_cancel,
    apply_fill,
    new_record,
)
from exchange.core.regulation import BadMonth, Regulation, month_bounds_us
from exchange.core.surveillance import Surveillance, Thresholds
from matching_engine import commands as engine_commands
from matching_engine.engine import MatchingEngine
from matching_engine.events import (
    BookLevelChanged,
    OrderAccepted,
    OrderCancelled,
    OrderReduced,
    OrderRejected,
    OrderReplaced,
    SessionClosed,
    Trade,
)
from matching_engine.types import (
    CancelReason,
    MarketStatus,
    OrderType,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
from settlement import commands as settlement_commands
from settlement.accounts import Role
from settlement.block_trades import BlockTradeStatus
from settlement.errors import SettlementError
from settlement.limits import BALANCE_LIMIT, MAX_ORDER_KG, MAX_PRICE_FEN
from settlement.pricing import rounding_reserve_fen
from settlement.registry import Registry

CROSSABLE_CAP = 1_000_000
"""The most resting orders counted for one incoming buy's rounding reserve."""

CLIENT_ORDER_WINDOW_S = 86_400
"""How long a client_order_id is remembered for idempotency (journals whose genesis
records it; older journals remember every id for ever, as they always did)."""


PLAIN_FORMAT = 2
"""Version of `Core.plain_state`; a snapshot in another version is refused, not guessed at.
Format 1 (the client order ids as a tuple-keyed map) is still read."""
_PLAIN_FORMATS_READ = (1, PLAIN_FORMAT)

# value -> member: a dict lookup instead of an Enum call on every order (the same
# members; a value not in the table still goes through the Enum and its error)
_SIDES = {m.value: m for m in Side}
_ORDER_TYPES = {m.value: m for m in OrderType}
_TIFS = {m.value: m for m in TimeInForce}
_STP_MODES = {m.value: m for m in SelfTradePrevention}

_ORDER_FIELDS = tuple(f.name for f in fields(OrderRecord))
_STATS_FIELDS = tuple(f.name for f in fields(SessionStats))

MAX_FILLED_KG = BALANCE_LIMIT // MAX_PRICE_FEN
"""An order's filled kilograms (across amendments) times the price ceiling must fit its
filled value (Σ price × kg, a 64-bit integer)."""


def _check_ceilings(quantity_kg, price_fen) -> None:
    """The API's ceilings, kept by the core too (a command is refused whole, before
    anything changes, however it arrives)."""
    if isinstance(quantity_kg, int) and quantity_kg > MAX_ORDER_KG:
        raise CommandRefused(
            "amount_too_large", f"quantity {quantity_kg} kg is over {MAX_ORDER_KG} kg"
        )
    if isinstance(price_fen, int) and price_fen > MAX_PRICE_FEN:
        raise CommandRefused(
            "amount_too_large", f"price {price_fen} fen/t is over {MAX_PRICE_FEN} fen/t"
        )


class CommandRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(slots=True)
class Outcome:
    seq: int
    ts_us: int
    kind: str
    result: dict = field(default_factory=dict)
    error: tuple[str, str] | None = None
    engine_events: list = field(default_factory=list)
    settlement_events: list = field(default_factory=list)
    alerts: list = field(default_factory=list)
    # order records this command created or changed, as they stand after it
    orders: list[OrderRecord] = field(default_factory=list)
    # instruments whose term ended when this command arrived; their effects stand
    # even if the command itself is refused
    expired: list[str] = field(default_factory=list)


class Core:
    def __init__(
        self,
        fee_bps: int = 0,
        stp: str = SelfTradePrevention.CANCEL_INCOMING,
        thresholds: Thresholds | None = None,
    ) -> None:
        self.fee_bps = fee_bps
        self.engine = MatchingEngine(stp=SelfTradePrevention(stp))
        self.registry = Registry(fee_bps=fee_bps)
        self.surveillance = Surveillance(thresholds)
        self.regulation = Regulation()
        self.open_orders: dict[int, OrderRecord] = {}
        # (account_id, client_order_id) -> (order_id, request_hash), for idempotency.
        # A genesis that records a window sets it: ids are then forgotten that long
        # after the order was placed (by the commands' own ts_us), which bounds the map.
        self.client_orders = ClientOrderIds()
        self.usernames: set[str] = set()
        self.stats: dict[str, SessionStats] = {}
        # symbol -> (valid_until "YYYY-MM-DD", the first microsecond after that day
        # in Asia/Shanghai): from the first command stamped at or after it, expired
        self.validity: dict[str, tuple[str, int]] = {}
        self._next_expiry_us: int | None = None
        self.last_seq = 0
        self._handlers = {
            commands.Genesis: self._genesis,
            commands.ListInstrument: self._list_instrument,
            commands.OpenAccount: self._open_account,
            commands.Deposit: self._deposit,
            commands.Withdraw: self._withdraw,
            commands.PlaceOrder: self._place_order,
            commands.CancelOrder: self._cancel_order,
            commands.CancelAll: self._cancel_all,
            commands.AmendOrder: self._amend_order,
            commands.Halt: self._halt,
            commands.Resume: self._resume,
            commands.CloseSession: self._close_session,
            commands.SetReferencePrice: self._set_reference_price,
            commands.ClaimReduction: self._claim_reduction,
            commands.VerifyReduction: self._verify_reduction,
            commands.RegisterProject: self._register_project,
            commands.Allocate: self._allocate,
            commands.SetFloor: self._set_floor,
            commands.ApplyReallocation: self._apply_reallocation,
            commands.DecideReallocation: self._decide_reallocation,
            commands.ReleaseReserve: self._release_reserve,
            commands.SubmitMonthly: self._submit_monthly,
            commands.AcknowledgeAlert: self._acknowledge_alert,
            commands.OpenAuction: self._open_auction,
            commands.PlaceBid: self._place_bid,
            commands.WithdrawBid: self._withdraw_bid,
            commands.CloseAuction: self._close_auction,
            commands.ProposeBlockTrade: self._propose_block_trade,
            commands.DecideBlockTrade: self._decide_block_trade,
        }

    # ------------------------------------------------------------------ apply
    def apply(self, seq: int, ts_us: int, command: commands.Command) -> Outcome:
        if seq != self.last_seq + 1:
            raise AssertionError(f"sequence gap: expected {self.last_seq + 1}, got {seq}")
        self.last_seq = seq
        handler = self._handlers.get(type(command))
        kind = command.kind if handler is not None else type(command).__name__
        out = Outcome(seq, ts_us, kind)
        if self._next_expiry_us is not None and ts_us >= self._next_expiry_us:
            self._expire_due(out)
        try:
            if handler is None:
                raise CommandRefused("unknown_command", f"not a command: {kind}")
            handler(out, command)
        except CommandRefused as refused:
            out.error = (refused.code, refused.message)
        except SettlementError as refused:
            out.error = (refused.code, str(refused.message))
        return out

    # ----------------------------------------------------------- engine glue
    def _run_engine(
        self,
        out: Outcome,
        cmd,
        context: dict | None = None,
        rounding_reserve_fen: dict[int, int] | None = None,
    ) -> list:
        events = self.engine.process(cmd)
        out.engine_events.extend(events)
        settled = self.registry.apply_engine_events(events, rounding_reserve_fen)
        out.settlement_events.extend(settled)
        self._track_orders(out, events, context or {})
        out.alerts.extend(self.surveillance.observe(events))
        shortfalls = self.registry.take_shortfalls()
        if shortfalls:
            for order_id, affordable_kg in shortfalls:
                self._shrink(out, order_id, affordable_kg)
            # a shrunk order was already reported by its fill: list each record once
            unique = {id(rec): rec for rec in out.orders}
            out.orders[:] = unique.values()
        return events

    def _shrink(self, out: Outcome, order_id: int, affordable_kg: int) -> None:
        """A resting buy that a fill left a few fen short of its lock, whose owner has
        no cash available to top it up, keeps what its hold still covers: reduced to
        that (keeping its time priority), or cancelled for insufficient funds. The
        follow-up carries the command's own seq and ts_us, so a replay repeats it."""
        rec = self.open_orders[order_id]
        if affordable_kg > 0:
            cmd = engine_commands.AmendOrder(
                out.seq, out.ts_us, rec.symbol, rec.id, rec.account_id, affordable_kg, None
            )
        else:
            cmd = engine_commands.CancelOrder(
                out.seq,
                out.ts_us,
                rec.symbol,
                rec.id,
                rec.account_id,
                CancelReason.INSUFFICIENT_FUNDS,
            )
        events = self._run_engine(out, cmd)
        assert not any(type(ev) is OrderRejected for ev in events), (
            f"shrinking order {order_id} to {affordable_kg} kg was refused: {events}"
        )

    def _rounding_reserve(self, inst, limit_fen: int, quantity_kg: int) -> int:
        """The reserve a buy limited at `limit_fen` locks on top of its hold while its
        own command settles: `pricing.rounding_reserve_fen` of the resting sells it
        could meet. Every fill is at least one lot, so it meets at most
        ceil(quantity / lot) of them: that caps the walk (and the reserve)."""
        if not (isinstance(limit_fen, int) and isinstance(quantity_kg, int)) or quantity_kg <= 0:
            return 0  # the engine refuses it
        cap = min(CROSSABLE_CAP, -(-quantity_kg // inst.lot_kg))
        return rounding_reserve_fen(
            self.engine.crossable_orders(inst.symbol, Side.BUY, limit_fen, cap)
        )

    def _track_orders(self, out: Outcome, events: list, context: dict) -> None:
        touched: dict[int, OrderRecord] = {}
        opened = self.open_orders
        for ev in events:
            cls = type(ev)
            if cls is Trade:
                stats = self.stats[ev.symbol]
                stats.on_trade(ev.price_fen, ev.quantity_kg)
                for oid, remaining in (
                    (ev.maker_order_id, ev.maker_remaining_kg),
                    (ev.taker_order_id, ev.taker_remaining_kg),
                ):
                    rec = opened[oid]
                    apply_fill(rec, ev, remaining)
                    touched[oid] = rec
            elif cls is BookLevelChanged:
                self.stats[ev.symbol].book_seq = ev.seq
            elif cls is OrderAccepted:
                rec = new_record(
                    ev,
                    context["client_order_id"],
                    context["request_hash"],
                    context["post_only"],
                    context["stp"],
                )
                opened[ev.order_id] = rec
                self.client_orders.add(
                    rec.account_id, rec.client_order_id, rec.id, rec.request_hash, out.ts_us
                )
                touched[ev.order_id] = rec
            elif cls is OrderCancelled:
                rec = opened[ev.order_id]
                apply_cancel(rec, ev)
                touched[ev.order_id] = rec
            elif cls is OrderReduced or cls is OrderReplaced:
                rec = opened[ev.order_id]
                apply_amend(rec, ev)
                touched[ev.order_id] = rec
            elif cls is SessionClosed:
                self.stats[ev.symbol].new_session(ev.seq, ev.reference_price_fen)
        for oid, rec in touched.items():
            if not rec.is_open:
                del opened[oid]
            out.orders.append(rec)

    def _first_rejection(self, events: list) -> None:
        for ev in events:
            if type(ev) is OrderRejected:
                raise CommandRefused(str(ev.reason), f"refused by the engine: {ev.reason}")

    def _instrument(self, symbol: str):
        try:
            return self.engine.instrument(symbol)
        except KeyError:
            raise CommandRefused("unknown_symbol", f"no instrument {symbol!r}") from None

    def _check_band(self, out: Outcome, account_id: str, inst, price_fen: int) -> None:
        low, high = inst.band()
        if not low <= price_fen <= high:
            out.alerts.append(
                self.surveillance.band_rejection(
                    out.seq, out.ts_us, inst.symbol, account_id, price_fen, (low, high)
                )
            )
            raise CommandRefused(
                "price_outside_band",
                f"price {price_fen} fen/t is outside the band {low}..{high} fen/t",
            )

    # -------------------------------------------------------------- validity
    def _expire_due(self, out: Outcome) -> None:
        """Ends the term of every instrument whose last valid day is over: its resting
        orders are cancelled (reason `expired`), its open auctions and pending block
        trades cancelled, their locks released. Driven by the command's own stamp, so a
        replay expires at exactly the same point."""
        for symbol in sorted(self.validity):
            if self.validity[symbol][1] > out.ts_us or self.registry.is_expired(symbol):
                continue
            for order_id in sorted(
                oid for oid, rec in self.open_orders.items() if rec.symbol == symbol
            ):
                rec = self.open_orders[order_id]
                self._run_engine(
                    out,
                    engine_commands.CancelOrder(
                        out.seq, out.ts_us, symbol, rec.id, rec.account_id, CancelReason.EXPIRED
                    ),
                )
            out.settlement_events.extend(
                self.registry.handle(
                    settlement_commands.ExpireInstrument(out.seq, out.ts_us, symbol)
                )
            )
            out.expired.append(symbol)
        self._plan_expiry()

    def _plan_expiry(self) -> None:
        due = [
            end_us for s, (_, end_us) in self.validity.items() if not self.registry.is_expired(s)
        ]
        self._next_expiry_us = min(due) if due else None

    def _require_live(self, symbol: str) -> None:
        if self.registry.is_expired(symbol):
            raise CommandRefused("instrument_expired", f"{symbol} has expired")

    def status(self, symbol: str) -> str:
        """open | halted | expired, as clients see the instrument."""
        if self.registry.is_expired(symbol):
            return EXPIRED
        return str(self.engine.instrument(symbol).status)

    def _check_traded_value(self, symbol: str, quantity_kg, price_cap_fen: int | None) -> None:
        """The session's traded value (Σ price × kg, stored as a 64-bit integer) must hold
        whatever this order could trade: its quantity at its limit (a buy) or at the
        price ceiling (a sell or a market order, which trade at resting prices)."""
        stats = self.stats.get(symbol)
        if stats is None or not isinstance(quantity_kg, int):
            return
        worst = stats.value + quantity_kg * (price_cap_fen or MAX_PRICE_FEN)
        if worst > BALANCE_LIMIT:
            raise CommandRefused(
                "balance_limit",
                f"{symbol}'s traded value this session ({stats.value}) could pass "
                f"{BALANCE_LIMIT}; a smaller order, or the next session, will do",
            )

    # -------------------------------------------------------------- handlers
    def parameters(self) -> dict:
        """What the state depends on besides the commands: fixed by the journal's
        genesis entry, so a replay never takes them from today's configuration."""
        params = {
            "fee_bps": self.fee_bps,
            "stp": str(self.engine.stp),
            "thresholds": asdict(self.surveillance.thresholds),
        }
        window_us = self.client_orders.window_us
        if window_us is not None:  # absent from older journals
            params["client_order_window_s"] = window_us // 1_000_000
        return params

    def _genesis(self, out: Outcome, c: commands.Genesis) -> None:
        if out.seq != 1:
            raise CommandRefused("genesis_not_first", "genesis can only be the first command")
        unknown = set(c.thresholds) - {f.name for f in fields(Thresholds)}
        if unknown:
            raise CommandRefused("invalid_command", f"unknown thresholds {sorted(unknown)}")
        self.__init__(fee_bps=c.fee_bps, stp=c.stp, thresholds=Thresholds(**c.thresholds))
        if c.client_order_window_s is not None:
            self.client_orders.window_us = c.client_order_window_s * 1_000_000
        self.last_seq = out.seq
        out.result = self.parameters()

    def _list_instrument(self, out: Outcome, c: commands.ListInstrument) -> None:
        symbol = c.symbol
        if symbol in self.engine.symbols():
            raise CommandRefused("instrument_exists", f"{symbol} is already listed")
        events = self.engine.process(
            engine_commands.AddInstrument(
                out.seq,
                out.ts_us,
                symbol,
                c.pollutant,
                c.vintage,
                c.tick_fen,
                c.lot_kg,
                c.reference_price_fen,
                c.band_bps,
            )
        )
        self._first_rejection(events)
        out.engine_events.extend(events)
        out.settlement_events.extend(
            self.registry.handle(
                settlement_commands.ListInstrument(
                    out.seq, out.ts_us, symbol, c.pollutant, c.vintage, c.lot_kg
                )
            )
        )
        self.stats[symbol] = SessionStats(
            symbol=symbol, prev_close_fen=c.reference_price_fen, session_start_seq=out.seq
        )
        if c.valid_until:
            self.validity[symbol] = (c.valid_until, c.valid_until_end_us)
            self._plan_expiry()
        out.result = {"symbol": symbol}

    def _open_account(self, out: Outcome, c: commands.OpenAccount) -> None:
        username = c.username
        if username in self.usernames:
            raise CommandRefused("username_taken", f"username {username!r} is taken")
        account_id = c.account_id or commands.account_id_for(out.seq)
        out.settlement_events.extend(
            self.registry.handle(
                settlement_commands.OpenAccount(
                    out.seq, out.ts_us, account_id, c.name, c.role, c.city_code or ""
                )
            )
        )
        self.usernames.add(username)
        out.result = {"account_id": account_id}

    def _deposit(self, out: Outcome, c: commands.Deposit) -> None:
        out.settlement_events.extend(
            self.registry.handle(
                settlement_commands.Deposit(out.seq, out.ts_us, c.account_id, c.amount_fen)
            )
        )
        out.result = {"account_id": c.account_id}

    def _withdraw(self, out: Outcome, c: commands.Withdraw) -> None:
        out.settlement_events.extend(
            self.registry.handle(
                settlement_commands.Withdraw(out.seq, out.ts_us, c.account_id, c.amount_fen)
            )
        )
        out.result = {"account_id": c.account_id}

    def _place_order(self, out: Outcome, c: commands.PlaceOrder) -> None:
        account_id = c.account_id
        # the map grows only here, so forgetting here is enough to bound it
        self.client_orders.forget_expired(out.ts_us)
        known = self.client_orders.get(account_id, c.client_order_id)
        if known is not None:
            order_id, request_hash = known
            out.result = {"order_id": order_id, "duplicate": True}
            if request_hash != c.request_hash:
                raise CommandRefused(
                    "duplicate_client_order_id",
                    f"client_order_id {c.client_order_id!r} was used for another order",
                )
            return
        inst = self._instrument(c.symbol)
        self._require_live(inst.symbol)
        if inst.status != MarketStatus.OPEN:
            raise CommandRefused("market_halted", f"{inst.symbol} is halted")
        side = _SIDES.get(c.side) or Side(c.side)
        order_type = _ORDER_TYPES.get(c.type) or OrderType(c.type)
        _check_ceilings(c.quantity_kg, c.price_fen if order_type is OrderType.LIMIT else None)
        self._check_traded_value(
            inst.symbol,
            c.quantity_kg,
            c.price_fen if side is Side.BUY and order_type is OrderType.LIMIT else None,
        )
        if order_type is OrderType.LIMIT:
            price_fen = c.price_fen
            self._check_band(out, account_id, inst, price_fen)
            lock_price = price_fen
        else:
            price_fen = 0
            low, high = inst.band()
            lock_price = high if side is Side.BUY else low
        reserve = 0
        if side is Side.BUY:
            reserve = self._rounding_reserve(inst, lock_price, c.quantity_kg)
        self.registry.check_order(account_id, inst.symbol, side, lock_price, c.quantity_kg, reserve)
        order_id = commands.order_id_for(out.seq)
        # Absent from commands journaled before orders had them: the old behaviour.
        post_only = c.post_only
        stp_name = c.self_trade_prevention or self.engine.stp
        stp = _STP_MODES.get(stp_name) or SelfTradePrevention(stp_name)
        events = self._run_engine(
            out,
            engine_commands.PlaceOrder(
                out.seq,
                out.ts_us,
                inst.symbol,
                order_id,
                account_id,
                side,
                order_type,
                price_fen,
                c.quantity_kg,
                _TIFS.get(c.time_in_force) or TimeInForce(c.time_in_force),
                post_only,
                stp,
            ),
            {
                "client_order_id": c.client_order_id,
                "request_hash": c.request_hash,
                "post_only": post_only,
                "stp": str(stp),
            },
            {order_id: reserve} if reserve else None,
        )
        self._first_rejection(events)
        out.result = {"order_id": order_id}

    def _owned_open_order(self, c: commands.CancelOrder | commands.AmendOrder) -> OrderRecord:
        rec = self.open_orders.get(c.order_id)
        if rec is None:
            raise CommandRefused("order_not_open", f"order {c.order_id} is not open")
        if rec.account_id != c.account_id:
            raise CommandRefused("order_not_found", f"no order {c.order_id}")
        return rec

    def _cancel_order(self, out: Outcome, c: commands.CancelOrder) -> None:
        rec = self._owned_open_order(c)
        events = self._run_engine(
            out, engine_commands.CancelOrder(out.seq, out.ts_us, rec.symbol, rec.id, rec.account_id)
        )
        self._first_rejection(events)
        out.result = {"order_id": rec.id}

    def _cancel_all(self, out: Outcome, c: commands.CancelAll) -> None:
        symbol = c.symbol
        if symbol is not None:
            self._instrument(symbol)
        events = self._run_engine(
            out, engine_commands.CancelAll(out.seq, out.ts_us, c.account_id, symbol)
        )
        self._first_rejection(events)
        out.result = {"cancelled": sum(1 for ev in events if type(ev) is OrderCancelled)}

    def _amend_order(self, out: Outcome, c: commands.AmendOrder) -> None:
        rec = self._owned_open_order(c)
        inst = self._instrument(rec.symbol)
        self._require_live(inst.symbol)
        if inst.status != MarketStatus.OPEN:
            raise CommandRefused("market_halted", f"{inst.symbol} is halted")
        if rec.type != OrderType.LIMIT:
            raise CommandRefused("order_not_open", "a market order cannot be amended")
        new_price = c.price_fen
        new_qty = c.quantity_kg
        _check_ceilings(new_qty, new_price)
        remaining = rec.remaining_kg if new_qty is None else new_qty
        if isinstance(remaining, int) and rec.filled_kg + remaining > MAX_FILLED_KG:
            raise CommandRefused(
                "balance_limit",
                f"order {rec.id} would reach {rec.filled_kg + remaining} kg filled, more than "
                f"its filled value can hold ({MAX_FILLED_KG} kg)",
            )
        if new_price is not None:
            # a new price can trade at once
            self._check_traded_value(
                rec.symbol, remaining, new_price if rec.side == Side.BUY else None
            )
            self._check_band(out, rec.account_id, inst, new_price)
        reserve = 0
        if rec.side == Side.BUY and new_price is not None:
            # Only a new price can trade at once: the book is never left crossed.
            quantity = rec.remaining_kg if new_qty is None else new_qty
            reserve = self._rounding_reserve(inst, new_price, quantity)
        self.registry.check_amend(rec.id, new_price, new_qty, reserve)
        events = self._run_engine(
            out,
            engine_commands.AmendOrder(
                out.seq, out.ts_us, rec.symbol, rec.id, rec.account_id, new_qty, new_price
            ),
            None,
            {rec.id: reserve} if reserve else None,
        )
        self._first_rejection(events)
        out.result = {"order_id": rec.id}

    def _market_command(self, out: Outcome, cmd) -> None:
        self._instrument(cmd.symbol)
        events = self._run_engine(out, cmd)
        self._first_rejection(events)
        out.result = {"symbol": cmd.symbol}

    def _halt(self, out: Outcome, c: commands.Halt) -> None:
        self._market_command(
            out, engine_commands.HaltMarket(out.seq, out.ts_us, c.symbol, c.cancel_orders)
        )

    def _resume(self, out: Outcome, c: commands.Resume) -> None:
        self._market_command(out, engine_commands.ResumeMarket(out.seq, out.ts_us, c.symbol))

    def _close_session(self, out: Outcome, c: commands.CloseSession) -> None:
        self._market_command(out, engine_commands.CloseSession(out.seq, out.ts_us, c.symbol))

    def _set_reference_price(self, out: Outcome, c: commands.SetReferencePrice) -> None:
        self._market_command(
            out, engine_commands.SetReferencePrice(out.seq, out.ts_us, c.symbol, c.price_fen)
        )

    def _registry(self, out: Outcome, cmd) -> None:
        out.settlement_events.extend(self.registry.handle(cmd))

    def _claim_reduction(self, out: Outcome, c: commands.ClaimReduction) -> None:
        claim_id = commands.claim_id_for(out.seq)
        self._instrument(c.symbol)
        self._registry(
            out,
            settlement_commands.ClaimReduction(
                out.seq,
                out.ts_us,
                claim_id,
                c.account_id,
                c.symbol,
                c.quantity_kg,
                c.source_kind,
                c.description,
                c.evidence,
            ),
        )
        out.result = {"claim_id": claim_id}

    def _verify_reduction(self, out: Outcome, c: commands.VerifyReduction) -> None:
        lot_id = commands.lot_id_for(out.seq)
        approve = c.decision == "approve"
        self._registry(
            out,
            settlement_commands.VerifyReduction(
                out.seq,
                out.ts_us,
                c.claim_id,
                c.account_id,
                approve,
                c.approved_kg or 0,
                c.method or "",
                c.note or "",
                lot_id if approve else "",
            ),
        )
        out.result = {"claim_id": c.claim_id, "lot_id": lot_id if approve else None}

    def _register_project(self, out: Outcome, c: commands.RegisterProject) -> None:
        project_id = commands.project_id_for(out.seq)
        self._instrument(c.symbol)
        self._registry(
            out,
            settlement_commands.RegisterProject(
                out.seq,
                out.ts_us,
                project_id,
                c.account_id,
                c.name,
                c.city_code,
                c.priority_category,
                c.symbol,
                c.required_kg,
                c.eia_reference,
            ),
        )
        out.result = {"project_id": project_id}

    def _allocate(self, out: Outcome, c: commands.Allocate) -> None:
        self._registry(
            out,
            settlement_commands.AllocateToProject(
                out.seq, out.ts_us, c.project_id, c.account_id, c.quantity_kg
            ),
        )
        out.result = {"project_id": c.project_id}

    def _set_floor(self, out: Outcome, c: commands.SetFloor) -> None:
        self._instrument(c.symbol)
        self._registry(
            out,
            settlement_commands.SetCityFloor(
                out.seq, out.ts_us, c.city_code, c.symbol, c.quantity_kg
            ),
        )
        out.result = {"city_code": c.city_code, "symbol": c.symbol}

    def _apply_reallocation(self, out: Outcome, c: commands.ApplyReallocation) -> None:
        application_id = commands.reallocation_id_for(out.seq)
        self._instrument(c.symbol)
        self._registry(
            out,
            settlement_commands.ApplyReallocation(
                out.seq,
                out.ts_us,
                application_id,
                c.account_id,
                c.project_id,
                c.symbol,
                c.quantity_kg,
                c.reason,
                c.priority_category,
            ),
        )
        out.result = {"application_id": application_id}

    def _decide_reallocation(self, out: Outcome, c: commands.DecideReallocation) -> None:
        self._registry(
            out,
            settlement_commands.DecideReallocation(
                out.seq,
                out.ts_us,
                c.application_id,
                c.account_id,
                c.decision == "approve",
                c.sources,
                c.note or "",
            ),
        )
        out.result = {"application_id": c.application_id}

    def _release_reserve(self, out: Outcome, c: commands.ReleaseReserve) -> None:
        self._instrument(c.symbol)
        self._registry(
            out,
            settlement_commands.ReleaseReserve(
                out.seq, out.ts_us, c.city_code, c.symbol, c.quantity_kg
            ),
        )
        out.result = {"city_code": c.city_code}

    def _submit_monthly(self, out: Outcome, c: commands.SubmitMonthly) -> None:
        city, symbol, month = c.city_code, c.symbol, c.month
        bureau = self.registry.account(c.account_id)
        if bureau.role != Role.CITY_BUREAU or bureau.city_code != city:
            raise CommandRefused("not_your_city", f"only the bureau of {city} submits its report")
        self._instrument(symbol)
        try:
            start_us, end_us = month_bounds_us(month)
        except BadMonth as bad:
            raise CommandRefused("invalid_input", str(bad)) from None
        if out.ts_us < start_us:
            raise CommandRefused("future_month", f"{month} has not begun")
        if out.ts_us < end_us:
            raise CommandRefused("month_not_ended", f"{month} has not ended yet")
        reason = c.correction_reason or None
        submitted = self.regulation.versions(city, symbol, month)
        if submitted and reason is None:
            raise CommandRefused(
                "already_submitted",
                f"{month} was submitted as version {len(submitted)}; "
                "a correction needs a correction_reason",
            )
        if not submitted and reason is not None:
            raise CommandRefused("nothing_to_correct", f"{month} has not been submitted yet")
        version = self.regulation.submit(
            out.seq, out.ts_us, c.account_id, city, symbol, month, reason
        )
        out.result = {
            "city_code": city,
            "symbol": symbol,
            "month": month,
            "version": version.version,
        }

    def _acknowledge_alert(self, out: Outcome, c: commands.AcknowledgeAlert) -> None:
        alert = (c.alert_seq, c.alert_ordinal)
        if not 0 < alert[0] < out.seq:
            raise CommandRefused("alert_not_found", f"no alert at seq {alert[0]}")
        regulator = self.registry.account(c.account_id)
        if regulator.role == Role.CITY_BUREAU:
            subject = c.alert_account_id
            if not subject or self.registry.account(subject).city_code != regulator.city_code:
                raise CommandRefused("alert_not_found", "no such alert in your city")
        elif regulator.role != Role.PROVINCE:
            raise CommandRefused("forbidden", "only regulators acknowledge alerts")
        if alert in self.regulation.acknowledged:
            raise CommandRefused("already_acknowledged", "the alert was already acknowledged")
        self.regulation.acknowledge(out.seq, out.ts_us, alert, c.account_id, c.note)
        out.result = {
            "alert_seq": alert[0],
            "alert_ordinal": alert[1],
            "alert_account_id": c.alert_account_id,
            # the read model's id, for the feeds; the journal names the alert by (seq, ordinal)
            "alert_id": c.alert_id,
            "acknowledged_by": c.account_id,
            "note": c.note,
        }

    # ------------------------------------------------- auctions, block trades
    def _check_tick(self, inst, price_fen: object) -> None:
        if isinstance(price_fen, int) and price_fen > 0 and price_fen % inst.tick_fen:
            raise CommandRefused(
                "price_off_tick", f"{price_fen} fen/t is not a multiple of {inst.tick_fen}"
            )

    def _open_auction(self, out: Outcome, c: commands.OpenAuction) -> None:
        inst = self._instrument(c.symbol)
        self._require_live(inst.symbol)
        self._check_tick(inst, c.reserve_price_fen)
        auction_id = commands.auction_id_for(out.seq)
        self._registry(
            out,
            settlement_commands.OpenAuction(
                out.seq,
                out.ts_us,
                auction_id,
                inst.symbol,
                c.quantity_kg,
                c.reserve_price_fen,
                c.bidder_cap_pct,
                c.note or "",
            ),
        )
        out.result = {"auction_id": auction_id}

    def _place_bid(self, out: Outcome, c: commands.PlaceBid) -> None:
        auction = self.registry.auction(c.auction_id)
        self._require_live(auction.symbol)
        self._check_tick(self._instrument(auction.symbol), c.price_fen)
        bid_id = commands.bid_id_for(out.seq)
        self._registry(
            out,
            settlement_commands.PlaceBid(
                out.seq,
                out.ts_us,
                bid_id,
                auction.auction_id,
                c.account_id,
                c.price_fen,
                c.quantity_kg,
            ),
        )
        out.result = {"auction_id": auction.auction_id, "bid_id": bid_id}

    def _withdraw_bid(self, out: Outcome, c: commands.WithdrawBid) -> None:
        self._registry(
            out, settlement_commands.WithdrawBid(out.seq, out.ts_us, c.bid_id, c.account_id)
        )
        bid = self.registry.bid(c.bid_id)
        out.result = {"auction_id": bid.auction_id, "bid_id": bid.bid_id}

    def _close_auction(self, out: Outcome, c: commands.CloseAuction) -> None:
        self._registry(out, settlement_commands.CloseAuction(out.seq, out.ts_us, c.auction_id))
        out.result = {"auction_id": c.auction_id}

    def _propose_block_trade(self, out: Outcome, c: commands.ProposeBlockTrade) -> None:
        """The band and the minimum come in the command (from the gateway's
        configuration), so a replay applies the ones in force when it was proposed."""
        inst = self._instrument(c.symbol)
        self._require_live(inst.symbol)
        price, quantity = c.price_fen, c.quantity_kg
        self._check_tick(inst, price)
        if isinstance(quantity, int) and quantity < c.min_quantity_kg:
            raise CommandRefused(
                "block_below_minimum",
                f"a block trade is at least {c.min_quantity_kg} kg, got {quantity}",
            )
        ref = inst.reference_price_fen
        low = -(-ref * (100 - c.band_pct) // 100)
        high = ref * (100 + c.band_pct) // 100
        if isinstance(price, int) and not low <= price <= high:
            raise CommandRefused(
                "price_outside_band",
                f"price {price} fen/t is outside the block band {low}..{high} fen/t",
            )
        block_id = commands.block_trade_id_for(out.seq)
        self._registry(
            out,
            settlement_commands.ProposeBlockTrade(
                out.seq,
                out.ts_us,
                block_id,
                c.account_id,
                c.buyer_account_id,
                inst.symbol,
                price,
                quantity,
                c.note or "",
            ),
        )
        out.result = {"block_id": block_id}

    def _decide_block_trade(self, out: Outcome, c: commands.DecideBlockTrade) -> None:
        self._registry(
            out,
            settlement_commands.DecideBlockTrade(
                out.seq, out.ts_us, c.block_id, c.account_id, c.action
            ),
        )
        block = self.registry.block_trade(c.block_id)
        if block.status == BlockTradeStatus.ACCEPTED:
            stats = self.stats[block.symbol]
            market = stats.last_fen or self.engine.instrument(block.symbol).reference_price_fen
            alert = self.surveillance.block_trade_off_market(
                out.seq,
                out.ts_us,
                block.symbol,
                block.block_id,
                block.seller_account_id,
                block.buyer_account_id,
                block.price_fen,
                market,
            )
            if alert is not None:
                out.alerts.append(alert)
        out.result = {"block_id": block.block_id, "status": block.status}

    # ------------------------------------------------------ snapshot and hash
    def snapshot(self) -> bytes:
        """The canonical JSON of the whole state: equal states give equal bytes, and
        `state_hash` is its SHA-256."""
        return self._canonical(self.engine.snapshot(), self.registry.snapshot())

    def snapshot_forms(self) -> tuple[bytes, dict]:
        """(`snapshot()`, `plain_state()`) with the engine serialized once for both."""
        engine_json = self.engine.snapshot()
        canonical = self._canonical(engine_json, self.registry.snapshot())
        return canonical, self.plain_state(engine_json)

    def _canonical(self, engine_json: bytes, registry_json: bytes) -> bytes:
        state = {
            "version": 1,
            "last_seq": self.last_seq,
            "fee_bps": self.fee_bps,
            "thresholds": asdict(self.surveillance.thresholds),
            "engine": base64.b64encode(engine_json).decode(),
            "registry": base64.b64encode(registry_json).decode(),
            "open_orders": [
                self._order_state(self.open_orders[i]) for i in sorted(self.open_orders)
            ],
            "client_orders": self.client_orders.rows(),
            "usernames": sorted(self.usernames),
            "stats": [self.stats[s].to_dict() for s in sorted(self.stats)],
            "surveillance": self.surveillance.snapshot(),
        }
        self.regulation.snapshot_into(state)
        if self.validity:  # only once used: older journals keep their state hash
            state["validity"] = {s: list(v) for s, v in sorted(self.validity.items())}
        if self.client_orders.window_us is not None:
            # only journals that record a window have this key: older ones hash as before
            state["client_order_window_us"] = self.client_orders.window_us
        return json.dumps(state, sort_keys=True, separators=(",", ":")).encode()

    def plain_state(self, engine_json: bytes | None = None) -> dict:
        """The whole state as plain data (dicts, lists, tuples, sets, str, int, bytes)
        for a snapshot that is pickled: the same state as `snapshot()`, not canonical,
        but loaded without parsing JSON or re-keying a dict per object. The engine,
        whose books are rebuilt order by order anyway, travels as its own JSON."""
        return {
            "format": PLAIN_FORMAT,
            "last_seq": self.last_seq,
            "fee_bps": self.fee_bps,
            "thresholds": asdict(self.surveillance.thresholds),
            "engine": self.engine.snapshot() if engine_json is None else engine_json,
            "registry": self.registry.plain_state(),
            "open_orders": [
                tuple([getattr(rec, n) for n in _ORDER_FIELDS]) for rec in self.open_orders.values()
            ],
            "client_order_ids": self.client_orders.plain_state(),
            "usernames": self.usernames,
            "stats": [tuple([getattr(st, n) for n in _STATS_FIELDS]) for st in self.stats.values()],
            "surveillance": self.surveillance.plain_state(),
            "regulation": self.regulation.plain_state(),
            "validity": self.validity,
        }

    @classmethod
    def restore_plain(
        cls,
        state: dict,
        stp: str = SelfTradePrevention.CANCEL_INCOMING,
        thresholds: Thresholds | None = None,
    ) -> Core:
        """The core `plain_state` describes (the snapshot's own thresholds win)."""
        if state.get("format") not in _PLAIN_FORMATS_READ:
            raise ValueError(f"unsupported plain state format {state.get('format')!r}")
        core = cls(fee_bps=state["fee_bps"], stp=stp, thresholds=Thresholds(**state["thresholds"]))
        core.last_seq = state["last_seq"]
        core.engine = MatchingEngine.restore(state["engine"])
        core.registry = Registry.restore_plain(state["registry"])
        core.open_orders = {row[0]: OrderRecord(*row) for row in state["open_orders"]}
        core.client_orders = _client_orders_from_plain(state)
        core.usernames = state["usernames"]
        core.stats = {row[0]: SessionStats(*row) for row in state["stats"]}
        core.surveillance.restore_plain(state["surveillance"])
        core.regulation.restore_plain(state["regulation"])
        core.validity = state["validity"]
        core._plan_expiry()
        return core

    @classmethod
    def restore(
        cls,
        data: bytes,
        stp: str = SelfTradePrevention.CANCEL_INCOMING,
        thresholds: Thresholds | None = None,
    ) -> Core:
        state = json.loads(data)
        if "thresholds" in state:  # snapshots carry their own parameters
            thresholds = Thresholds(**state["thresholds"])
        core = cls(fee_bps=state["fee_bps"], stp=stp, thresholds=thresholds)
        core.last_seq = state["last_seq"]
        core.engine = MatchingEngine.restore(base64.b64decode(state["engine"]))
        core.registry = Registry.restore(base64.b64decode(state["registry"]))
        default_stp = str(core.engine.stp)
        core.open_orders = {
            d["id"]: OrderRecord.from_dict({"self_trade_prevention": default_stp, **d})
            for d in state["open_orders"]
        }
        core.client_orders = ClientOrderIds.from_rows(
            state["client_orders"], state.get("client_order_window_us")
        )
        core.usernames = set(state["usernames"])
        core.stats = {d["symbol"]: SessionStats.from_dict(d) for d in state["stats"]}
        core.surveillance.restore(state["surveillance"])
        core.regulation.restore_from(state)
        core.validity = {s: (v[0], v[1]) for s, v in state.get("validity", {}).items()}
        core._plan_expiry()
        return core

    def _order_state(self, rec: OrderRecord) -> dict:
        """An open order as the snapshot holds it: post-only and the self-trade mode
        only when they differ from the defaults, so that state from before orders had
        them keeps its bytes and its hash."""
        d = rec.to_dict()
        if not d["post_only"]:
            del d["post_only"]
        if d["self_trade_prevention"] == str(self.engine.stp):
            del d["self_trade_prevention"]
        return d

    def state_hash(self) -> str:
        return hashlib.sha256(self.snapshot()).hexdigest()


def _client_orders_from_plain(state: dict) -> ClientOrderIds:
    """The remembered ids of a plain snapshot; one written before they were packed
    (a tuple-keyed map, its times and its expiry queue) is converted."""
    if "client_order_ids" in state:
        return ClientOrderIds.restore_plain(state["client_order_ids"])
    ids = ClientOrderIds(state["client_order_window_us"])
    old, times = state["client_orders"], state["client_order_ts"]
    for ts_us, key in state["client_order_expiry"]:  # oldest first
        if times.get(key) == ts_us and key not in ids:
            ids.add(key[0], key[1], *old[key], ts_us)
    for (account_id, client_order_id), (order_id, request_hash) in old.items():
        if (account_id, client_order_id) not in ids:
            ids.add(account_id, client_order_id, order_id, request_hash, 0)
    return ids
