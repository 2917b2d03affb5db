"""The shapes of the answers, for /openapi.json (and a client generated from it).

Routes declare them as documentation (`responses=`), not as `response_model`: the
handlers already build exactly these dicts, and validating every answer again would
cost time on the hot path. tests/e2e/test_openapi_responses.py checks real answers
against these schemas, so the two cannot drift apart. Amounts and quantities are
decimal strings (yuan, tonnes), as everywhere on the wire."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from exchange.edge.api import vocabulary

Yuan = str
Tonnes = str
Time = str


class Shape(BaseModel):
    # additionalProperties: false, so a field added to a view but not here fails the check
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(Shape):
    code: str = Field(description="stable lower_snake_case code (exchange/edge/api/error_codes.py)")
    message: str


class ErrorBody(Shape):
    error: ErrorDetail


class Cash(Shape):
    available: Yuan
    locked: Yuan


class Holding(Shape):
    available: Tonnes
    locked: Tonnes
    used: Tonnes


class CityPool(Shape):
    id: str
    allowances: dict[str, Holding]


class Account(Shape):
    id: str
    name: str
    role: vocabulary.ACCOUNT_ROLE
    city_code: str | None
    cash: Cash
    allowances: dict[str, Holding]
    city_pool: CityPool | None = None


class Session(Shape):
    token: str
    role: vocabulary.ROLE
    account_id: str
    city_code: str | None
    expires_at: Time


class NewAccount(Shape):
    id: str
    username: str
    name: str
    role: vocabulary.ROLE
    city_code: str | None


class AccountSummary(Shape):
    id: str
    name: str
    role: vocabulary.ACCOUNT_ROLE
    city_code: str | None
    cash: Cash


class Accounts(Shape):
    items: list[AccountSummary]


class Fees(Shape):
    id: Literal["FEES"]
    cash: Cash


class Instrument(Shape):
    symbol: str
    pollutant: str
    vintage: int
    tick_size: Yuan
    lot_size: Tonnes
    reference_price: Yuan
    price_band_pct: str
    status: vocabulary.INSTRUMENT_STATUS
    valid_until: str | None


class Instruments(Shape):
    items: list[Instrument]


class Book(Shape):
    symbol: str
    seq: int
    bids: list[list[str]] = Field(description="[price, quantity] levels, best first")
    asks: list[list[str]]


class PublicTrade(Shape):
    id: str | int
    price: Yuan
    quantity: Tonnes
    taker_side: vocabulary.SIDE
    time: Time
    seq: int
    kind: vocabulary.TRADE_KIND


class PublicTrades(Shape):
    items: list[PublicTrade]
    next_cursor: str | None


class Ticker(Shape):
    symbol: str
    last: Yuan | None
    open: Yuan | None
    high: Yuan | None
    low: Yuan | None
    volume: Tonnes
    vwap: Yuan | None
    change: Yuan | None
    change_pct: str | None
    prev_close: Yuan | None = None
    trades: int | None = None


class Candle(Shape):
    time: Time
    open: Yuan
    high: Yuan
    low: Yuan
    close: Yuan
    volume: Tonnes


class Candles(Shape):
    items: list[Candle]


class Order(Shape):
    id: str
    client_order_id: str | None
    symbol: str
    side: vocabulary.SIDE
    type: vocabulary.ORDER_TYPE
    price: Yuan | None
    quantity: Tonnes
    remaining_quantity: Tonnes
    filled_quantity: Tonnes
    average_price: Yuan | None
    time_in_force: vocabulary.TIME_IN_FORCE
    post_only: bool
    self_trade_prevention: vocabulary.SELF_TRADE_PREVENTION | None
    status: vocabulary.ORDER_STATUS
    cancel_reason: vocabulary.CANCEL_REASON | None
    created_at: Time
    updated_at: Time
    account_id: str | None = Field(None, description="to the province only")


class Orders(Shape):
    items: list[Order]
    next_cursor: str | None


class Cancelled(Shape):
    cancelled: int


class Party(Shape):
    account_id: str
    name: str | None
    city_code: str | None


class Trade(Shape):
    id: str | int
    symbol: str
    price: Yuan
    quantity: Tonnes
    cash: Yuan
    taker_side: vocabulary.SIDE
    time: Time
    seq: int
    side: vocabulary.SIDE | None = Field(None, description="to an enterprise: its own side")
    order_id: str | None = None
    fee: Yuan | None = None
    buyer: Party | None = Field(None, description="to the province")
    seller: Party | None = None
    buyer_fee: Yuan | None = None
    seller_fee: Yuan | None = None


class Trades(Shape):
    items: list[Trade]
    next_cursor: str | None


class Reduction(Shape):
    id: str
    account_id: str
    city_code: str
    symbol: str
    quantity: Tonnes
    source_kind: vocabulary.SOURCE_KIND
    description: str
    evidence: str
    status: vocabulary.CLAIM_STATUS
    approved_quantity: Tonnes | None
    method: vocabulary.METHOD | None
    note: str | None
    verifier_account_id: str | None
    lot_id: str | None
    created_at: Time
    decided_at: Time | None


class Reductions(Shape):
    items: list[Reduction]
    next_cursor: str | None = None


class Project(Shape):
    id: str
    owner_account_id: str
    name: str
    city_code: str
    priority_category: vocabulary.PRIORITY
    symbol: str
    required_quantity: Tonnes
    allocated_quantity: Tonnes
    outstanding_quantity: Tonnes
    eia_reference: str | None
    created_at: Time


class Projects(Shape):
    items: list[Project]
    next_cursor: str | None = None


class ProjectSource(Shape):
    lot_id: str
    reduction_id: str | None
    source_kind: vocabulary.LOT_SOURCE_KIND
    origin_city_code: str
    origin_account_id: str | None
    quantity: Tonnes


class ProjectSources(Shape):
    items: list[ProjectSource]


class CityLedger(Shape):
    city_code: str
    name: str
    name_zh: str
    symbol: str
    added: Tonnes
    used: Tonnes
    transferred_in: Tonnes
    transferred_out: Tonnes
    remaining: Tonnes
    floor: Tonnes
    opening_remaining: Tonnes | None = Field(None, description="with from/to only")


class CityLedgers(Shape):
    items: list[CityLedger]


class Movement(Shape):
    seq: int
    time: Time
    kind: str
    quantity: Tonnes
    reference: str | None
    counterparty: str | None


class MonthlyReport(Shape):
    city_code: str
    name: str
    name_zh: str
    symbol: str
    month: str
    opening_remaining: Tonnes
    added: Tonnes
    used: Tonnes
    transferred_in: Tonnes
    transferred_out: Tonnes
    closing_remaining: Tonnes
    movements: list[Movement]


class Floor(Shape):
    city_code: str
    symbol: str
    quantity: Tonnes


class Reallocation(Shape):
    id: str
    bureau_account_id: str
    city_code: str
    project_id: str
    symbol: str
    quantity: Tonnes
    reason: str
    priority_category: vocabulary.PRIORITY
    status: vocabulary.APPLICATION_STATUS
    sources: list[dict[str, str]] = Field(description='[{"from": a city or "reserve", "quantity"}]')
    note: str | None
    decided_by: str | None
    created_at: Time
    decided_at: Time | None


class Reallocations(Shape):
    items: list[Reallocation]


class Alert(Shape):
    id: str
    kind: str
    symbol: str | None
    account_id: str | None
    city_code: str | None
    detail: dict[str, Any]
    time: Time
    seq: int
    ordinal: int
    status: vocabulary.ALERT_STATUS
    acknowledged_by: str | None
    acknowledged_at: Time | None
    note: str | None


class Alerts(Shape):
    items: list[Alert]
    next_cursor: str | None


class Figures(Shape):
    opening_remaining: Tonnes
    added: Tonnes
    used: Tonnes
    transferred_in: Tonnes
    transferred_out: Tonnes
    closing_remaining: Tonnes
    movements: int


class Version(Shape):
    version: int
    submitted_by: str
    submitted_at: Time
    seq: int
    correction_reason: str | None
    figures: Figures
    csv_sha256: str


class Submitted(Version):
    city_code: str
    symbol: str
    month: str


class CitySubmissions(Shape):
    city_code: str
    name: str
    name_zh: str
    status: vocabulary.SUBMISSION_STATUS
    late: vocabulary.LATENESS | None
    versions: list[Version]


class Submissions(Shape):
    month: str
    symbol: str
    due_at: Time
    items: list[CitySubmissions]


class Release(Shape):
    city_code: str
    symbol: str
    quantity: Tonnes


class CoreState(Shape):
    seq: int
    state_hash: str
    journal_seq: int


class Bid(Shape):
    id: str
    auction_id: str
    account_id: str
    price: Yuan
    quantity: Tonnes
    status: vocabulary.BID_STATUS
    awarded_quantity: Tonnes | None
    paid: Yuan | None
    fee: Yuan | None
    time: Time


class Auction(Shape):
    id: str
    symbol: str
    quantity: Tonnes
    reserve_price: Yuan
    bidder_cap_pct: int
    note: str
    status: vocabulary.AUCTION_STATUS
    clearing_price: Yuan | None
    sold_quantity: Tonnes
    opened_at: Time
    closed_at: Time | None
    bids: list[Bid]


class Auctions(Shape):
    items: list[Auction]


class BlockTrade(Shape):
    id: str
    symbol: str
    seller_account_id: str
    buyer_account_id: str
    price: Yuan
    quantity: Tonnes
    note: str
    status: vocabulary.BLOCK_TRADE_STATUS
    cash: Yuan
    buyer_fee: Yuan | None
    seller_fee: Yuan | None
    created_at: Time
    decided_at: Time | None


class BlockTrades(Shape):
    items: list[BlockTrade]


class Health(Shape):
    status: Literal["ok", "starting", "failing"]
    reason: str | None = Field(None, description="why it is failing")


class Live(Shape):
    """The process answers HTTP; nothing else is checked (no database, no core)."""

    status: Literal["ok"]


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (401, "no valid session"),
        (403, "the caller's role may not do this"),
        (404, "not found, or not the caller's to see"),
        (409, "refused in the current state"),
        (422, "invalid input"),
        (429, "too many requests"),
        (503, "the core did not answer in time"),
    )
}


def doc(model: type[BaseModel], *statuses: int, download: bool = False) -> dict[str, Any]:
    """Decorator arguments describing a route's answer (200 unless other statuses are
    given); `download`: JSON by default, a CSV or xlsx file with ?format=csv|xlsx.
    response_model=None: the handler's `-> dict` would otherwise be merged into it."""
    content: dict[str, Any] = {}
    if download:
        content = {
            "text/csv": {"schema": {"type": "string"}},
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                "schema": {"type": "string", "format": "binary"}
            },
        }
    answer = {"model": model, **({"content": content} if content else {})}
    return {"response_model": None, "responses": {s: answer for s in statuses or (200,)}}
