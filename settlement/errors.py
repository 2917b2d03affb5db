"""Why the registry refuses a command: stable codes the API reuses as error codes."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    INSUFFICIENT_CASH = "insufficient_cash"
    INSUFFICIENT_ALLOWANCES = "insufficient_allowances"
    UNKNOWN_ACCOUNT = "unknown_account"
    UNKNOWN_SYMBOL = "unknown_symbol"
    UNKNOWN_CITY = "unknown_city"
    UNKNOWN_CLAIM = "unknown_claim"
    UNKNOWN_PROJECT = "unknown_project"
    UNKNOWN_APPLICATION = "unknown_application"
    ORDER_NOT_OPEN = "order_not_open"
    INVALID_SIDE = "invalid_side"
    NOT_YOUR_CITY = "not_your_city"
    NOT_ALLOWED = "not_allowed"
    ALREADY_VERIFIED = "already_verified"
    ALREADY_DECIDED = "already_decided"
    APPROVED_EXCEEDS_CLAIM = "approved_exceeds_claim"
    EXCEEDS_PROJECT_REQUIREMENT = "exceeds_project_requirement"
    REALLOCATION_SOURCES_MISMATCH = "reallocation_sources_mismatch"
    BELOW_CITY_FLOOR = "below_city_floor"
    INVALID_AMOUNT = "invalid_amount"
    INVALID_SOURCE_KIND = "invalid_source_kind"
    INVALID_METHOD = "invalid_method"
    INVALID_PRIORITY_CATEGORY = "invalid_priority_category"
    INVALID_ROLE = "invalid_role"
    INVALID_SOURCE = "invalid_source"
    INVALID_ID = "invalid_id"
    DUPLICATE_ID = "duplicate_id"
    INSTRUMENT_EXISTS = "instrument_exists"
    SYMBOL_MISMATCH = "symbol_mismatch"
    NOTE_REQUIRED = "note_required"
    INSTRUMENT_EXPIRED = "instrument_expired"
    UNKNOWN_AUCTION = "auction_not_found"
    UNKNOWN_BID = "bid_not_found"
    AUCTION_CLOSED = "auction_closed"
    BID_BELOW_RESERVE = "bid_below_reserve"
    UNKNOWN_BLOCK_TRADE = "block_trade_not_found"
    NOT_YOUR_BLOCK_TRADE = "not_your_block_trade"
    BLOCK_TRADE_NOT_PENDING = "block_trade_not_pending"
    INVALID_COUNTERPARTY = "invalid_counterparty"
    QUANTITY_OFF_LOT = "quantity_off_lot"
    BALANCE_LIMIT = "balance_limit"
    AMOUNT_TOO_LARGE = "amount_too_large"


class SettlementError(Exception):
    """A refused command. The registry raises it before changing any state."""

    def __init__(self, code: ErrorCode | str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = str(code)
        self.message = message
