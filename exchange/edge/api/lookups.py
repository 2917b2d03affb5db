"""Lookups several routers share: a row by its id, a symbol named inside a body must be
listed, and the answer of a command that creates or decides a row: its view."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request
from sqlalchemy import Connection, Table, select

from exchange.core.commands import Command
from exchange.edge.api.deps import read, submit
from exchange.edge.api.errors import ApiError
from exchange.infra.db import models
from settlement.accounts import Role

_instruments = models.Instrument.__table__


def instrument_or_422(conn: Connection, symbol: str):
    """The instrument's row; an unknown symbol inside a body is `422 unknown_symbol`."""
    row = conn.execute(select(_instruments).where(_instruments.c.symbol == symbol)).first()
    if row is None:
        raise ApiError("unknown_symbol", f"no instrument {symbol!r}")
    return row


def row_by_id(conn: Connection, table: Table, row_id: str):
    return conn.execute(select(table).where(table.c.id == row_id)).first()


async def view_of(request: Request, table: Table, row_id: str, view: Callable) -> dict:
    """`view` of the row `row_id` of `table`, read off the event loop."""
    return view(await read(request, row_by_id, table, row_id))


async def submit_and_view(
    request: Request, command: Command, id_key: str, table: Table, view: Callable
) -> dict:
    """Submits a command that creates a row of `table` and answers with its view; the
    core's reply names the new row under `id_key`."""
    reply = await submit(request, command)
    return await view_of(request, table, reply["result"][id_key], view)


def outside_bureau_city(caller, city_code: str | None) -> bool:
    """A city bureau sees its own city only; other callers are not limited by city."""
    return caller.role == Role.CITY_BUREAU and caller.city_code != city_code
