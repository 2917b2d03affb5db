"""Random command streams through the whole core (engine + registry + order
records), checking after every step that nothing is created or lost."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from exchange.core.state import Core
from settlement.pricing import buy_hold_fen
from tests.core_driver import SYMBOL, CoreDriver, through_plain_snapshot

PRICES = st.integers(min_value=310_000, max_value=330_000).map(lambda p: p - p % 50)
QUANTITIES = st.integers(min_value=1, max_value=40).map(lambda n: n * 250)
# Odd fen and odd kilograms: fills that round half up in cash and fee, small enough to
# sweep many resting orders at once.
ODD_PRICES = st.integers(min_value=310_000, max_value=330_000)
ODD_QUANTITIES = st.integers(min_value=1, max_value=999)


class CoreMachine(RuleBasedStateMachine):
    @initialize(fee_bps=st.sampled_from([0, 7, 25]))
    def open_market(self, fee_bps):
        self.d = CoreDriver(fee_bps=fee_bps)
        self.d.list_nox(reference_fen=320_000, band_bps=500)
        self.bureau = self.d.account("bureau", "city_bureau", "440100")
        self.traders = [
            self.d.account(f"t{i}", city=("440100", "440300", "441900")[i % 3]) for i in range(4)
        ]
        self.deposited = 0
        self.withdrawn = 0
        self.issued = 0
        self.placed: list[int] = []
        self.halted = False
        # A market from the first step: cash for every trader, allowances for those of
        # the bureau's city (the others buy theirs).
        for trader in self.traders:
            self.deposit(self.traders.index(trader), 200_000_000)
            self.issue(self.traders.index(trader), 20_000)

    @rule(who=st.integers(0, 3), fen=st.integers(1, 50_000_000))
    def deposit(self, who, fen):
        self.d.deposit(self.traders[who], fen)
        self.deposited += fen

    @rule(who=st.integers(0, 3), fen=st.integers(1, 20_000_000))
    def withdraw(self, who, fen):
        out = self.d.apply({"kind": "withdraw", "account_id": self.traders[who], "amount_fen": fen})
        if out.error is None:
            self.withdrawn += fen
        else:
            assert out.error[0] == "insufficient_cash"

    @rule(who=st.integers(0, 3), kg=QUANTITIES)
    def issue(self, who, kg):
        trader = self.traders[who]
        if self.d.core.registry.account(trader).city_code == "440100":
            self.d.issue(trader, self.bureau, kg)
            self.issued += kg

    @rule(
        who=st.integers(0, 3),
        side=st.sampled_from(["buy", "sell"]),
        price=PRICES,
        kg=QUANTITIES,
        tif=st.sampled_from(["GTC", "GTC", "DAY", "IOC", "FOK"]),
        market=st.booleans(),
    )
    def place(self, who, side, price, kg, tif, market):
        if market:
            out = self.d.order(
                self.traders[who], side, None, kg, tif=tif if tif in ("IOC", "FOK") else "IOC",
                order_type="market",
            )  # fmt: skip
        else:
            out = self.d.order(self.traders[who], side, price, kg, tif=tif)
        if out.error is None:
            self.placed.append(out.result["order_id"])
        elif self.halted:
            assert out.error[0] == "market_halted", out.error
        else:
            refusals = {"insufficient_cash", "insufficient_allowances", "price_outside_band"}
            assert out.error[0] in refusals, out.error

    @rule(
        who=st.integers(0, 3),
        side=st.sampled_from(["buy", "sell"]),
        price=PRICES,
        kg=QUANTITIES,
        tif=st.sampled_from(["GTC", "DAY"]),
        post_only=st.booleans(),
        stp=st.sampled_from([None, "cancel_incoming", "cancel_resting", "cancel_both"]),
    )
    def place_with_options(self, who, side, price, kg, tif, post_only, stp):
        options = {"post_only": True} if post_only else {}
        if stp is not None:
            options["self_trade_prevention"] = stp
        command = {
            "kind": "place_order",
            "account_id": self.traders[who],
            "client_order_id": f"o{self.d.core.last_seq + 1}",
            "request_hash": "h",
            "symbol": SYMBOL,
            "side": side,
            "type": "limit",
            "price_fen": price,
            "quantity_kg": kg,
            "time_in_force": tif,
            **options,
        }
        out = self.d.apply(command)
        if out.error is None:
            self.placed.append(out.result["order_id"])
            rec = next(r for r in out.orders if r.id == out.result["order_id"])
            assert rec.post_only is post_only
            assert rec.self_trade_prevention == (stp or "cancel_incoming")
            if post_only:
                assert rec.filled_kg == 0
        elif self.halted:
            assert out.error[0] == "market_halted", out.error
        else:
            refusals = {"insufficient_cash", "insufficient_allowances", "price_outside_band",
                        "post_only_would_cross"}  # fmt: skip
            assert out.error[0] in refusals, out.error

    @rule(who=st.integers(0, 3), one_symbol=st.booleans())
    def cancel_all(self, who, one_symbol):
        trader = self.traders[who]
        open_before = sum(1 for r in self.d.core.open_orders.values() if r.account_id == trader)
        command = {"kind": "cancel_all", "account_id": trader}
        if one_symbol:
            command["symbol"] = SYMBOL
        out = self.d.apply(command)
        assert out.error is None, out.error
        assert out.result == {"cancelled": open_before}
        assert all(r.account_id != trader for r in self.d.core.open_orders.values())
        assert self.d.core.registry.cash(trader)[1] == 0

    @rule(
        who=st.integers(0, 3),
        side=st.sampled_from(["buy", "sell"]),
        price=ODD_PRICES,
        kg=ODD_QUANTITIES,
        tif=st.sampled_from(["GTC", "GTC", "IOC"]),
    )
    def place_odd(self, who, side, price, kg, tif):
        self.place(who, side, price, kg, tif, False)

    @rule(seller=st.integers(0, 3), kg=ODD_QUANTITIES | QUANTITIES)
    def best_bidder_spends_everything_then_is_hit(self, seller, kg):
        """The owner of the best bid withdraws all its available cash, then a sell meets
        the bid: a fill that leaves it a few fen short of its requirement cannot be
        topped up, so the core shrinks or cancels it within the same command."""
        core = self.d.core
        best = core.engine.book(SYMBOL).best_bid()
        owners = sorted(
            rec.account_id
            for rec in core.open_orders.values()
            if rec.side == "buy" and rec.price_fen == best
        )
        if not owners or self.traders[seller] in owners:
            return
        available, _ = core.registry.cash(owners[0])
        if available:
            self.d.ok({"kind": "withdraw", "account_id": owners[0], "amount_fen": available})
            self.withdrawn += available
        self.place(seller, "sell", best, kg, "IOC", False)

    @precondition(lambda self: self.placed)
    @rule(pick=st.integers(0, 10_000))
    def cancel(self, pick):
        order_id = self.placed[pick % len(self.placed)]
        rec = self.d.core.open_orders.get(order_id)
        owner = rec.account_id if rec else self.traders[0]
        out = self.d.apply({"kind": "cancel_order", "account_id": owner, "order_id": order_id})
        assert (out.error is None) == (rec is not None)

    @precondition(lambda self: self.placed)
    @rule(pick=st.integers(0, 10_000), kg=st.none() | QUANTITIES, price=st.none() | PRICES)
    def amend(self, pick, kg, price):
        order_id = self.placed[pick % len(self.placed)]
        rec = self.d.core.open_orders.get(order_id)
        if rec is None or (kg is None and price is None):
            return
        self.d.apply(
            {
                "kind": "amend_order",
                "account_id": rec.account_id,
                "order_id": order_id,
                "quantity_kg": kg,
                "price_fen": price,
            }
        )

    @rule()
    def close_session(self):
        self.d.ok({"kind": "close_session", "symbol": SYMBOL})

    @rule(halt=st.booleans())
    def halt_or_resume(self, halt):
        self.d.ok({"kind": "halt" if halt else "resume", "symbol": SYMBOL})
        self.halted = halt

    @rule(who=st.integers(0, 3), need=QUANTITIES, use=QUANTITIES)
    def use_for_a_project(self, who, need, use):
        trader = self.traders[who]
        project = self.d.ok(
            {
                "kind": "register_project",
                "account_id": trader,
                "name": "line",
                "city_code": "440300",
                "priority_category": "ordinary",
                "symbol": SYMBOL,
                "required_kg": need,
                "eia_reference": "EIA",
            }
        )["project_id"]
        out = self.d.apply(
            {"kind": "allocate", "account_id": trader, "project_id": project, "quantity_kg": use}
        )
        if out.error:
            assert out.error[0] in {"insufficient_allowances", "exceeds_project_requirement"}

    @invariant()
    def books_registry_and_records_agree(self):
        core = self.d.core
        core.engine.check_invariants()
        core.registry.check_invariants()
        book = core.engine.book(SYMBOL)
        for order_id, rec in core.open_orders.items():
            view = book.get_order(order_id)
            assert view is not None, f"open record {order_id} is not in the book"
            assert view.remaining_kg == rec.remaining_kg
            assert rec.filled_kg + rec.remaining_kg == rec.quantity_kg

    @invariant()
    def every_resting_buy_holds_exactly_the_api_md_amount(self):
        """price x remaining rounded up plus the fee on that rounded up, and nothing
        more locked: no per-lot excess, no rounding reserve left behind."""
        core = self.d.core
        book = core.engine.book(SYMBOL)
        locked: dict[str, int] = {}
        for order_id, rec in core.open_orders.items():
            if rec.side == "buy":
                view = book.get_order(order_id)
                exact = buy_hold_fen(view.price_fen, view.remaining_kg, core.fee_bps)
                assert core.registry.hold(order_id).held_fen == exact, (order_id, exact)
                locked[rec.account_id] = locked.get(rec.account_id, 0) + exact
        for trader in self.traders:
            assert core.registry.cash(trader)[1] == locked.get(trader, 0)

    @invariant()
    def cash_and_allowances_are_conserved(self):
        reg = self.d.core.registry
        accounts = [a.account_id for a in reg.accounts()]
        cash = [reg.cash(a) for a in accounts]
        assert all(avail >= 0 and locked >= 0 for avail, locked in cash)
        assert sum(a + b for a, b in cash) == self.deposited - self.withdrawn
        held = [reg.allowances(a, SYMBOL) for a in accounts]
        assert all(min(h) >= 0 for h in held)
        assert sum(sum(h) for h in held) == self.issued

    def teardown(self):
        if not hasattr(self, "d"):
            return
        assert self.d.replay().state_hash() == self.d.core.state_hash()
        assert Core.restore(self.d.core.snapshot()).state_hash() == self.d.core.state_hash()
        assert through_plain_snapshot(self.d.core).state_hash() == self.d.core.state_hash()


CoreMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_core_machine = CoreMachine.TestCase
