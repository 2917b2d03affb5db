"""How objects look on the wire: the same shapes for REST responses and feeds."""

from __future__ import annotations

from collections.abc import Mapping

from exchange.core.units import cny, iso_time, round_half_up_div, tonnes


def order_view(o: Mapping) -> dict:
    filled = o["filled_kg"]
    average = round_half_up_div(o["filled_value_fen"], filled) if filled else None
    return {
        "id": str(o["id"]),
        "client_order_id": o["client_order_id"],
        "symbol": o["symbol"],
        "side": o["side"],
        "type": o["type"],
        "price": cny(o["price_fen"]),
        "quantity": tonnes(o["quantity_kg"]),
        "remaining_quantity": tonnes(o["remaining_kg"]),
        "filled_quantity": tonnes(filled),
        "average_price": cny(average),
        "time_in_force": o["time_in_force"],
        "post_only": bool(o["post_only"]),
        "self_trade_prevention": o["self_trade_prevention"],
        "status": o["status"],
        "cancel_reason": o["cancel_reason"],
        "created_at": iso_time(o["created_us"]),
        "updated_at": iso_time(o["updated_us"]),
    }


def record_row(rec) -> dict:
    """An in-memory OrderRecord as the row shape `order_view` reads."""
    row = rec.to_dict()
    row["filled_value_fen"] = row.pop("filled_value")
    return row


def public_trade_view(t: Mapping) -> dict:
    return {
        "id": t["id"],
        "price": cny(t["price_fen"]),
        "quantity": tonnes(t["quantity_kg"]),
        "taker_side": t["taker_side"],
        "time": iso_time(t["ts_us"]),
        "seq": t["seq"],
        "kind": t["kind"],
    }


def party(account_id: str, name: str | None, city_code: str | None) -> dict:
    return {"account_id": account_id, "name": name, "city_code": city_code}


def ticker_view(s: Mapping | None) -> dict:
    empty = {
        "last": None,
        "open": None,
        "high": None,
        "low": None,
        "volume": tonnes(0),
        "vwap": None,
        "change": None,
        "change_pct": None,
    }
    if s is None or s["last_fen"] is None:
        if s is not None:
            empty["prev_close"] = cny(s["prev_close_fen"])
        return empty
    last, prev = s["last_fen"], s["prev_close_fen"]
    change = last - prev
    # percent with 2 decimals, half up, sign kept
    pct_hundredths = round_half_up_div(abs(change) * 10_000, prev) if prev else 0
    sign = "-" if change < 0 else ""
    return {
        "last": cny(last),
        "open": cny(s["open_fen"]),
        "high": cny(s["high_fen"]),
        "low": cny(s["low_fen"]),
        "volume": tonnes(s["volume_kg"]),
        "vwap": cny(round_half_up_div(s["value"], s["volume_kg"])),
        "change": cny(change),
        "change_pct": f"{sign}{pct_hundredths // 100}.{pct_hundredths % 100:02d}",
        "prev_close": cny(prev),
        "trades": s["trade_count"],
    }


def levels_view(levels) -> list[list[str]]:
    return [[cny(price), tonnes(qty)] for price, qty in levels]


def block_trade_row(t) -> dict:
    """A registry block trade as its read-model row holds it (and the feeds view it)."""
    return {
        "id": t.block_id,
        "symbol": t.symbol,
        "seller_account_id": t.seller_account_id,
        "buyer_account_id": t.buyer_account_id,
        "price_fen": t.price_fen,
        "quantity_kg": t.quantity_kg,
        "note": t.note,
        "status": t.status,
        "cash_fen": t.cash_fen,
        "buyer_fee_fen": t.buyer_fee_fen,
        "seller_fee_fen": t.seller_fee_fen,
        "created_seq": t.proposed_seq,
        "created_us": t.proposed_us,
        "decided_us": t.decided_us or None,
    }


def block_trade_view(t: Mapping) -> dict:
    """A block trade as its parties and the province see it."""
    get = t.get
    return {
        "id": get("id"),
        "symbol": get("symbol"),
        "seller_account_id": get("seller_account_id"),
        "buyer_account_id": get("buyer_account_id"),
        "price": cny(get("price_fen")),
        "quantity": tonnes(get("quantity_kg")),
        "note": get("note"),
        "status": get("status"),
        "cash": cny(get("cash_fen")),
        "buyer_fee": cny(get("buyer_fee_fen")),
        "seller_fee": cny(get("seller_fee_fen")),
        "created_at": iso_time(get("created_us")),
        "decided_at": iso_time(get("decided_us")) if get("decided_us") else None,
    }
