"""Why the engine refuses a command: stable codes the API reuses as error codes."""

from enum import StrEnum


class RejectReason(StrEnum):
    UNKNOWN_SYMBOL = "unknown_symbol"
    MARKET_HALTED = "market_halted"
    INVALID_PRICE = "invalid_price"
    PRICE_OFF_TICK = "price_off_tick"
    PRICE_OUTSIDE_BAND = "price_outside_band"
    INVALID_QUANTITY = "invalid_quantity"
    QUANTITY_OFF_LOT = "quantity_off_lot"
    INVALID_TIME_IN_FORCE = "invalid_time_in_force"
    DUPLICATE_ORDER_ID = "duplicate_order_id"
    ORDER_NOT_OPEN = "order_not_open"
    NOT_ORDER_OWNER = "not_order_owner"
    NO_CHANGE = "no_change"
    INSTRUMENT_EXISTS = "instrument_exists"
    INVALID_INSTRUMENT = "invalid_instrument"
    POST_ONLY_WOULD_CROSS = "post_only_would_cross"
    INVALID_SELF_TRADE_PREVENTION = "invalid_self_trade_prevention"


class InvariantViolation(AssertionError):
    """A book or engine found its own state inconsistent: a bug, never user input."""
