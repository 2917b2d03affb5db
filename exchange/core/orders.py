"""The core's record of each order as clients see it (status, fills, average
price), kept in step with the engine's events."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from matching_engine.events import (
    OrderAccepted,
    OrderCancelled,
    OrderReduced,
    OrderReplaced,
    Trade,
)
from matching_engine.types import OrderType, SelfTradePrevention


class OrderStatus(StrEnum):
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"


# Records hold plain strings, as they do for side, type and time in force (str(ev.side)
# below); module names keep the replay's hot path to one global lookup.
OPEN = OrderStatus.OPEN.value
PARTIALLY_FILLED = OrderStatus.PARTIALLY_FILLED.value
FILLED = OrderStatus.FILLED.value
CANCELLED = OrderStatus.CANCELLED.value
LIMIT = OrderType.LIMIT.value


@dataclass(slots=True)
class OrderRecord:
    id: int
    client_order_id: str
    account_id: str
    symbol: str
    side: str
    type: str
    price_fen: int | None
    quantity_kg: int
    remaining_kg: int
    filled_kg: int
    # Σ price_fen × qty_kg over fills: the exact numerator of the average price
    filled_value: int
    time_in_force: str
    status: str
    cancel_reason: str | None
    created_us: int
    updated_us: int
    request_hash: str
    post_only: bool = False
    self_trade_prevention: str = SelfTradePrevention.CANCEL_INCOMING.value

    @property
    def is_open(self) -> bool:
        return self.status in (OPEN, PARTIALLY_FILLED)

    def average_price_fen(self) -> int | None:
        if not self.filled_kg:
            return None
        # round half up without floats
        return (2 * self.filled_value + self.filled_kg) // (2 * self.filled_kg)

    def to_dict(self) -> dict:
        # dataclasses.asdict deep-copies every field; these are flat, so a plain
        # dict of the slots is the same and several times faster on the hot path
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_dict(cls, data: dict) -> OrderRecord:
        return cls(**data)


def new_record(
    ev: OrderAccepted,
    client_order_id: str,
    request_hash: str,
    post_only: bool,
    self_trade_prevention: str,
) -> OrderRecord:
    return OrderRecord(
        id=ev.order_id,
        client_order_id=client_order_id,
        account_id=ev.owner,
        symbol=ev.symbol,
        side=str(ev.side),
        type=str(ev.type),
        price_fen=ev.price_fen if str(ev.type) == LIMIT else None,
        quantity_kg=ev.quantity_kg,
        remaining_kg=ev.quantity_kg,
        filled_kg=0,
        filled_value=0,
        time_in_force=str(ev.tif),
        status=OPEN,
        cancel_reason=None,
        created_us=ev.ts_us,
        updated_us=ev.ts_us,
        request_hash=request_hash,
        post_only=post_only,
        self_trade_prevention=self_trade_prevention,
    )


def apply_fill(rec: OrderRecord, trade: Trade, remaining_kg: int) -> None:
    rec.filled_kg += trade.quantity_kg
    rec.filled_value += trade.price_fen * trade.quantity_kg
    rec.remaining_kg = remaining_kg
    rec.status = FILLED if remaining_kg == 0 else PARTIALLY_FILLED
    rec.updated_us = trade.ts_us


def apply_cancel(rec: OrderRecord, ev: OrderCancelled) -> None:
    rec.remaining_kg = 0
    rec.status = CANCELLED
    rec.cancel_reason = str(ev.reason)
    rec.updated_us = ev.ts_us


def apply_amend(rec: OrderRecord, ev: OrderReduced | OrderReplaced) -> None:
    rec.remaining_kg = ev.new_remaining_kg
    rec.quantity_kg = rec.filled_kg + ev.new_remaining_kg
    if isinstance(ev, OrderReplaced):
        rec.price_fen = ev.new_price_fen
    rec.updated_us = ev.ts_us
