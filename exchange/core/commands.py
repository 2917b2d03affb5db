"""The commands the sequencer journals: one frozen class per kind.

Money and quantities are integers (fen, kg). The gateway has already checked the
caller's role and the shape of the input; constructing a command checks the
types again, so whatever reaches the core (from a route, the Redis queue or the
journal) has the fields its handler reads, and the core checks everything that
depends on state. A payload must hold all the core needs: ids are derived from
`seq`, time from `ts_us`.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields
from typing import Any, ClassVar, get_type_hints

from matching_engine.types import OrderType, SelfTradePrevention, Side, TimeInForce


class MalformedCommand(ValueError):
    """A payload that is not a command: refused before it reaches the core."""

    code = "invalid_command"


Sources = tuple[tuple[str, int], ...]
"""A reallocation's sources: (the city it comes from, kilograms)."""

Thresholds = dict[str, int]
"""Alert thresholds by name, as `asdict(surveillance.Thresholds)` spells them."""

# Enumerations the core turns into engine types itself; any other vocabulary is
# checked by the registry, which refuses an unknown value with its own code.
_CHOICES: dict[str, frozenset[str]] = {
    "side": frozenset(Side),
    "type": frozenset(OrderType),
    "time_in_force": frozenset(TimeInForce),
    "self_trade_prevention": frozenset(SelfTradePrevention),
    "stp": frozenset(SelfTradePrevention),
}


def _is_int(v: object) -> bool:
    return type(v) is int


def _is_str(v: object) -> bool:
    return isinstance(v, str)


def _is_bool(v: object) -> bool:
    return type(v) is bool


def _is_sources(v: object) -> bool:
    return type(v) is tuple and all(
        type(s) is tuple and len(s) == 2 and isinstance(s[0], str) and type(s[1]) is int for s in v
    )


def _is_thresholds(v: object) -> bool:
    return type(v) is dict and all(isinstance(n, str) and type(x) is int for n, x in v.items())


_CHECKS = {
    int: _is_int,
    str: _is_str,
    bool: _is_bool,
    Sources: _is_sources,
    Thresholds: _is_thresholds,
}


def _checker(name: str, hint: Any):
    optional = False
    args = getattr(hint, "__args__", ())
    if type(None) in args and len(args) == 2:  # X | None
        optional = True
        hint = next(a for a in args if a is not type(None))
    check = _CHECKS[hint]
    choices = _CHOICES.get(name)
    if choices is not None:
        base = check

        def check(v: object) -> bool:
            return base(v) and v in choices

    if optional:
        inner = check

        def check(v: object) -> bool:
            return v is None or inner(v)

    return check


def _condition(name: str, hint: Any, env: dict[str, object]) -> str:
    """The check of one field as a Python expression over `v` (see _checker)."""
    args = getattr(hint, "__args__", ())
    if type(None) in args and len(args) == 2:
        inner = next(a for a in args if a is not type(None))
        return f"v is None or ({_condition(name, inner, env)})"
    simple = {int: "type(v) is int", str: "isinstance(v, str)", bool: "type(v) is bool"}
    if hint in simple:
        expr = simple[hint]
    else:
        env[f"_is_{name}"] = _CHECKS[hint]
        expr = f"_is_{name}(v)"
    if name in _CHOICES:
        env[f"_choices_{name}"] = _CHOICES[name]
        expr = f"{expr} and v in _choices_{name}"
    return expr


def _inline_checks(kind: str, hints: dict[str, Any], names: list[str]):
    """`__post_init__` with every field's check written out: the same checks as
    `_checks` (which names the failing field), without a loop and a call per field;
    building commands is on the hot path of the gateway and of replay."""
    env: dict[str, object] = {}
    lines = ["def __post_init__(self):"]
    for name in names:
        lines += [f"    v = self.{name}", f"    if not ({_condition(name, hints[name], env)}):",
                  "        self._refuse()"]  # fmt: skip
    if not names:
        lines.append("    pass")
    exec(compile("\n".join(lines), f"<checks of {kind}>", "exec"), env)
    return env["__post_init__"]


COMMANDS: dict[str, type[Command]] = {}


class Command:
    """Base of every command; `kind` names it in the journal."""

    __slots__ = ()
    kind: ClassVar[str]
    _checks: ClassVar[tuple]
    _defaults: ClassVar[dict[str, object]]

    def __post_init__(self) -> None:
        # replaced in each command class by _inline_checks; being here makes the
        # dataclass __init__ call it
        self._refuse()

    def _refuse(self) -> None:
        for name, check in self._checks:
            value = getattr(self, name)
            if not check(value):
                raise MalformedCommand(f"{self.kind}: {name} cannot be {value!r}")


def command(kind: str):
    """Declares a command class: frozen, slotted, its fields checked on construction."""

    def declare(cls):
        cls = dataclass(frozen=True, slots=True)(cls)
        hints = get_type_hints(cls, globals())
        cls.kind = kind
        cls._checks = tuple((f.name, _checker(f.name, hints[f.name])) for f in fields(cls))
        cls._defaults = {f.name: f.default for f in fields(cls) if f.default is not MISSING}
        cls.__post_init__ = _inline_checks(kind, hints, [f.name for f in fields(cls)])
        COMMANDS[kind] = cls
        return cls

    return declare


@command("genesis")
class Genesis(Command):
    fee_bps: int
    stp: str
    thresholds: Thresholds
    # absent from journals begun before client order ids were forgotten: None
    # keeps their behaviour (remembered for ever) and their payloads unchanged
    client_order_window_s: int | None = None


@command("list_instrument")
class ListInstrument(Command):
    symbol: str
    pollutant: str
    vintage: int
    tick_fen: int
    lot_kg: int
    reference_price_fen: int
    band_bps: int
    valid_until: str | None = None
    valid_until_end_us: int | None = None


@command("open_account")
class OpenAccount(Command):
    username: str
    password_hash: str
    name: str
    role: str
    city_code: str | None = None
    # system accounts (reserve, fees) are opened under fixed ids
    account_id: str | None = None


@command("deposit")
class Deposit(Command):
    account_id: str
    amount_fen: int


@command("withdraw")
class Withdraw(Command):
    account_id: str
    amount_fen: int


@command("place_order")
class PlaceOrder(Command):
    account_id: str
    client_order_id: str
    request_hash: str
    symbol: str
    side: str
    type: str
    price_fen: int | None
    quantity_kg: int
    time_in_force: str
    # absent from orders journaled before orders had them: the old behaviour
    post_only: bool = False
    self_trade_prevention: str | None = None


@command("cancel_order")
class CancelOrder(Command):
    account_id: str
    order_id: int


@command("cancel_all")
class CancelAll(Command):
    account_id: str
    symbol: str | None = None


@command("amend_order")
class AmendOrder(Command):
    account_id: str
    order_id: int
    quantity_kg: int | None = None
    price_fen: int | None = None


@command("halt")
class Halt(Command):
    symbol: str
    cancel_orders: bool = False


@command("resume")
class Resume(Command):
    symbol: str


@command("close_session")
class CloseSession(Command):
    symbol: str


@command("set_reference_price")
class SetReferencePrice(Command):
    symbol: str
    price_fen: int


@command("claim_reduction")
class ClaimReduction(Command):
    account_id: str
    symbol: str
    quantity_kg: int
    source_kind: str
    description: str
    evidence: str


@command("verify_reduction")
class VerifyReduction(Command):
    account_id: str
    claim_id: str
    decision: str
    approved_kg: int | None = None
    method: str | None = None
    note: str | None = None


@command("register_project")
class RegisterProject(Command):
    account_id: str
    name: str
    city_code: str
    priority_category: str
    symbol: str
    required_kg: int
    eia_reference: str


@command("allocate")
class Allocate(Command):
    account_id: str
    project_id: str
    quantity_kg: int


@command("set_floor")
class SetFloor(Command):
    city_code: str
    symbol: str
    quantity_kg: int


@command("apply_reallocation")
class ApplyReallocation(Command):
    account_id: str
    project_id: str
    symbol: str
    quantity_kg: int
    reason: str
    priority_category: str


@command("decide_reallocation")
class DecideReallocation(Command):
    account_id: str
    application_id: str
    decision: str
    sources: Sources = ()
    note: str | None = None


@command("release_reserve")
class ReleaseReserve(Command):
    city_code: str
    symbol: str
    quantity_kg: int


@command("submit_monthly")
class SubmitMonthly(Command):
    account_id: str
    city_code: str
    symbol: str
    month: str
    correction_reason: str | None = None


@command("acknowledge_alert")
class AcknowledgeAlert(Command):
    account_id: str
    alert_seq: int
    alert_ordinal: int
    note: str
    alert_account_id: str | None = None
    # the read model's id, for the feeds; the journal names the alert by (seq, ordinal)
    alert_id: str | None = None


@command("open_auction")
class OpenAuction(Command):
    symbol: str
    quantity_kg: int
    reserve_price_fen: int
    bidder_cap_pct: int
    note: str | None = None


@command("place_bid")
class PlaceBid(Command):
    auction_id: str
    account_id: str
    price_fen: int
    quantity_kg: int


@command("withdraw_bid")
class WithdrawBid(Command):
    bid_id: str
    account_id: str


@command("close_auction")
class CloseAuction(Command):
    auction_id: str


@command("propose_block_trade")
class ProposeBlockTrade(Command):
    """The band and the minimum come from the gateway's configuration, so a replay
    applies the ones in force when it was proposed."""

    account_id: str
    buyer_account_id: str
    symbol: str
    price_fen: int
    quantity_kg: int
    band_pct: int
    min_quantity_kg: int
    note: str | None = None


@command("decide_block_trade")
class DecideBlockTrade(Command):
    block_id: str
    account_id: str
    action: str


def order_id_for(seq: int) -> int:
    return seq


def account_id_for(seq: int) -> str:
    return f"ACC-{seq}"


def claim_id_for(seq: int) -> str:
    return f"RED-{seq}"


def lot_id_for(seq: int) -> str:
    return f"LOT-{seq}"


def project_id_for(seq: int) -> str:
    return f"PRJ-{seq}"


def reallocation_id_for(seq: int) -> str:
    return f"RAL-{seq}"


def auction_id_for(seq: int) -> str:
    return f"AUC-{seq}"


def bid_id_for(seq: int) -> str:
    return f"BID-{seq}"


def block_trade_id_for(seq: int) -> str:
    return f"BLK-{seq}"


def trade_id_for(symbol: str, trade_no: int) -> str:
    return f"{symbol}-{trade_no}"
