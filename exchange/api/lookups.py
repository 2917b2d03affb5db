"""Lookups several routers share: a symbol named inside a body must be listed."""

from __future__ import annotations

from sqlalchemy import Connection, select

from exchange.api.errors import ApiError
from exchange.db import models

_instruments = models.Instrument.__table__


def instrument_or_422(conn: Connection, symbol: str):
    """The instrument's row; an unknown symbol inside a body is `422 unknown_symbol`."""
    row = conn.execute(select(_instruments).where(_instruments.c.symbol == symbol)).first()
    if row is None:
        raise ApiError("unknown_symbol", f"no instrument {symbol!r}")
    return row
