"""Request bodies. Decimals must arrive as strings (a JSON number is refused),
and are turned into integer fen or kilograms here, at the edge."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    field_validator,
)

from exchange.core.units import UnitError, parse_cny, parse_tonnes
from exchange.edge.api.vocabulary import (
    DECISION,
    METHOD,
    ORDER_TYPE,
    PRIORITY,
    ROLE,
    SELF_TRADE_PREVENTION,
    SIDE,
    SOURCE_KIND,
    TIME_IN_FORCE,
)
from settlement import limits

POLLUTANT = Literal["NOx", "SO2", "VOCs", "COD", "NH3-N"]
SYMBOL_PATTERN = r"^[A-Z0-9]{2,8}-[0-9]{4}$"
# Ids, sequence numbers and cursors are 64-bit integers in the database; a larger
# number in a path or query can name nothing and must not reach the driver.
MAX_ID = 2**63 - 1
_ASCII_DIGITS = re.compile(r"[0-9]{1,19}")


def _ascii_digits(value: object) -> object:
    # int() and pydantic's lax mode take " 12", "12\n", "+12" and "1_2" as 12
    if isinstance(value, str) and not _ASCII_DIGITS.fullmatch(value):
        raise ValueError("must be a whole number written with the digits 0-9")
    return value


AsciiInt = Annotated[int, BeforeValidator(_ascii_digits)]
"""An integer query parameter: plain ASCII digits and nothing else."""


class InvalidAmount(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _positive(parse, what, ceiling: int | None = None, shown: str = ""):
    def check(text: str) -> int:
        try:
            value = parse(text, what)
        except UnitError as exc:
            raise InvalidAmount("invalid_decimal", str(exc)) from None
        if value <= 0:
            raise InvalidAmount("invalid_amount", f"{what} must be greater than zero")
        if ceiling is not None and value > ceiling:
            raise InvalidAmount("amount_too_large", f"{what} 超过上限 {shown} (at most {shown})")
        return value

    return check


def _non_negative(parse, what):
    def check(text: str) -> int:
        try:
            value = parse(text, what)
        except UnitError as exc:
            raise InvalidAmount("invalid_decimal", str(exc)) from None
        if value > limits.MAX_REGISTRY_KG:
            raise InvalidAmount("amount_too_large", f"{what} 超过上限 10,000,000 吨 (at most)")
        return value

    return check


# Each of these is a string on the wire and an int (fen or kg) once validated; the
# ceilings (422 amount_too_large) keep every balance within 64 bits (settlement.limits).
Cny = Annotated[
    StrictStr,
    AfterValidator(
        _positive(parse_cny, "amount", limits.MAX_DEPOSIT_FEN, "1,000,000,000,000.00 元")
    ),
]
Price = Annotated[
    StrictStr,
    AfterValidator(_positive(parse_cny, "price", limits.MAX_PRICE_FEN, "10,000,000.00 元/吨")),
]
OrderTonnes = Annotated[
    StrictStr,
    AfterValidator(_positive(parse_tonnes, "quantity", limits.MAX_ORDER_KG, "1,000,000 吨")),
]
Tonnes = Annotated[
    StrictStr,
    AfterValidator(_positive(parse_tonnes, "quantity", limits.MAX_REGISTRY_KG, "10,000,000 吨")),
]
TonnesOrZero = Annotated[StrictStr, AfterValidator(_non_negative(parse_tonnes, "quantity"))]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        # PostgreSQL text and JSONB cannot hold U+0000: one such string in a command
        # failed the whole group commit (503 for every command in the batch)
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("text may not contain NUL characters")
        return value


class SessionIn(Body):
    username: StrictStr = Field(min_length=1, max_length=100)
    password: StrictStr = Field(min_length=1, max_length=200)


class AccountIn(Body):
    username: StrictStr = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    # strength (422 weak_password) is checked by the route, with its own error code
    password: StrictStr = Field(min_length=1, max_length=200)
    name: StrictStr = Field(min_length=1, max_length=200)
    role: ROLE
    city_code: StrictStr | None = None


class AmountIn(Body):
    amount: Cny


class InstrumentIn(Body):
    symbol: StrictStr = Field(pattern=SYMBOL_PATTERN)
    pollutant: POLLUTANT
    vintage: int = Field(ge=2000, le=2100, strict=True)
    # validate_default: the defaults go through the same parsing as a value sent in the body
    tick_size: Price = Field(default="0.01", validate_default=True)
    lot_size: Tonnes = Field(default="0.001", validate_default=True)
    reference_price: Price
    price_band_pct: StrictStr = "10"
    # the last day it may trade, Asia/Shanghai
    valid_until: StrictStr | None = Field(default=None, pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


class OrderIn(Body):
    client_order_id: StrictStr = Field(min_length=1, max_length=64)
    symbol: StrictStr = Field(min_length=1, max_length=32)
    side: SIDE
    type: ORDER_TYPE = "limit"
    price: Price | None = None
    quantity: OrderTonnes
    time_in_force: TIME_IN_FORCE | None = None
    post_only: StrictBool = False
    # None: the exchange's configured mode (cancel_incoming unless set otherwise)
    self_trade_prevention: SELF_TRADE_PREVENTION | None = None


class CancelAllIn(Body):
    symbol: StrictStr | None = Field(default=None, min_length=1, max_length=32)


class AmendIn(Body):
    quantity: OrderTonnes | None = None
    price: Price | None = None


class ReductionIn(Body):
    symbol: StrictStr = Field(min_length=1, max_length=32)
    quantity: Tonnes
    source_kind: SOURCE_KIND
    description: StrictStr = Field(default="", max_length=4000)
    evidence: StrictStr = Field(default="", max_length=4000)


class VerifyIn(Body):
    decision: DECISION
    approved_quantity: Tonnes | None = None
    method: METHOD | None = None
    note: StrictStr = Field(default="", max_length=4000)


class ProjectIn(Body):
    name: StrictStr = Field(min_length=1, max_length=200)
    city_code: StrictStr | None = None
    priority_category: PRIORITY
    symbol: StrictStr = Field(min_length=1, max_length=32)
    required_quantity: Tonnes
    eia_reference: StrictStr = Field(default="", max_length=200)


class AllocationIn(Body):
    symbol: StrictStr = Field(min_length=1, max_length=32)
    quantity: Tonnes


class FloorIn(Body):
    symbol: StrictStr = Field(min_length=1, max_length=32)
    quantity: TonnesOrZero


class ReallocationIn(Body):
    project_id: StrictStr = Field(min_length=1, max_length=64)
    symbol: StrictStr = Field(min_length=1, max_length=32)
    quantity: Tonnes
    reason: StrictStr = Field(default="", max_length=4000)
    priority_category: PRIORITY


class SourceIn(Body):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_: StrictStr = Field(alias="from", min_length=1, max_length=16)
    quantity: Tonnes


class DecideIn(Body):
    decision: DECISION
    sources: list[SourceIn] = Field(default_factory=list, max_length=21)
    note: StrictStr = Field(default="", max_length=4000)


class ReserveReleaseIn(Body):
    city_code: StrictStr
    symbol: StrictStr = Field(min_length=1, max_length=32)
    quantity: Tonnes


class SubmitMonthIn(Body):
    symbol: StrictStr = Field(default="NOX-2025", pattern=SYMBOL_PATTERN)
    # only for a correction: why the month is submitted again
    correction_reason: StrictStr | None = Field(default=None, min_length=1, max_length=4000)


class AcknowledgeIn(Body):
    note: StrictStr = Field(default="", max_length=4000)


class AuctionIn(Body):
    symbol: StrictStr = Field(min_length=1, max_length=32)
    quantity: Tonnes
    reserve_price: Price
    bidder_cap_pct: int = Field(ge=1, le=100, strict=True)
    note: StrictStr = Field(default="", max_length=4000)


class BidIn(Body):
    price: Price
    quantity: Tonnes


class BlockTradeIn(Body):
    symbol: StrictStr = Field(min_length=1, max_length=32)
    buyer_account_id: StrictStr = Field(min_length=1, max_length=64)
    price: Price
    quantity: Tonnes
    note: StrictStr = Field(default="", max_length=4000)
