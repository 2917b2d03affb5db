"""Cash amounts, fees and buy-hold sizes, in integers only."""

from __future__ import annotations

KG_PER_TONNE = 1_000
BPS_DENOMINATOR = 10_000


def ceil_div(numerator: int, denominator: int) -> int:
    assert denominator > 0
    return -(-numerator // denominator)


def round_half_up_div(numerator: int, denominator: int) -> int:
    assert numerator >= 0 and denominator > 0
    return (2 * numerator + denominator) // (2 * denominator)


def trade_cash_fen(price_fen: int, quantity_kg: int) -> int:
    """What the buyer pays and the seller gets for a fill; prices are per tonne."""
    return round_half_up_div(price_fen * quantity_kg, KG_PER_TONNE)


def fee_fen(cash_fen: int, fee_bps: int) -> int:
    return round_half_up_div(cash_fen * fee_bps, BPS_DENOMINATOR)


def buy_lock_per_lot_fen(price_fen: int, lot_kg: int, fee_bps: int) -> int:
    """Ceilings per lot rather than for the whole order: ceil is subadditive, so a
    fill of k lots at any price <= price_fen, rounded half up, plus its rounded fee,
    never costs more than k of these. Rounding the whole order once would not bound
    the sum of many separately rounded fills."""
    cost = ceil_div(price_fen * lot_kg, KG_PER_TONNE)
    return cost + ceil_div(cost * fee_bps, BPS_DENOMINATOR)


def buy_hold_fen(price_fen: int, remaining_kg: int, lot_kg: int, fee_bps: int) -> int:
    """The cash a buy order must hold for `remaining_kg` still to fill.

    Quantities off the lot size (which the engine refuses) count as whole lots, so
    a pre-trade check of such an order is conservative rather than wrong."""
    return ceil_div(remaining_kg, lot_kg) * buy_lock_per_lot_fen(price_fen, lot_kg, fee_bps)
