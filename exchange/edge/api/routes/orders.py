"""Orders and the caller's trades."""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Annotated, NamedTuple

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import or_, select

from exchange.core import commands
from exchange.core.orders import OrderStatus
from exchange.core.tables import Column, local_time
from exchange.core.units import cny, iso_time, tonnes
from exchange.core.views import order_view, party
from exchange.edge.api import responses
from exchange.edge.api.deps import Conn, Enterprise, EnterpriseOrProvince, NoNul, submit
from exchange.edge.api.errors import ApiError
from exchange.edge.api.lookups import instrument_or_422
from exchange.edge.api.schemas import MAX_ID, AmendIn, AsciiInt, CancelAllIn, OrderIn
from exchange.edge.api.vocabulary import ORDER_STATUS
from exchange.edge.exports import (
    Format,
    From,
    To,
    download,
    export_rows,
    period_label,
    within_period,
)
from exchange.infra.db import models
from matching_engine.types import OrderType, Side, TimeInForce
from settlement.accounts import Role

router = APIRouter(prefix="/api/v1", tags=["orders"], dependencies=[NoNul])
_orders = models.Order.__table__
_trades = models.Trade.__table__
_accounts = models.Account.__table__
_OPEN_STATUSES = (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)


def _check_steps(inst, price_fen: int | None, quantity_kg: int | None) -> None:
    if price_fen is not None and price_fen % inst.tick_fen:
        raise ApiError("price_off_tick", f"price must be a multiple of {cny(inst.tick_fen)}")
    if quantity_kg is not None and quantity_kg % inst.lot_kg:
        raise ApiError("quantity_off_lot", f"quantity must be a multiple of {tonnes(inst.lot_kg)}")


def _request_hash(fields: dict) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def _existing(conn, account_id: str, client_order_id: str):
    return (
        conn.execute(
            select(_orders).where(
                _orders.c.account_id == account_id, _orders.c.client_order_id == client_order_id
            )
        )
        .mappings()
        .first()
    )


async def _instrument_steps(request: Request, symbol: str):
    """(tick_fen, lot_kg) of a listed symbol. They never change once listed, so each
    gateway keeps them: the order path then reads nothing from the database."""
    cache: dict = request.app.state.instrument_steps
    steps = cache.get(symbol)
    if steps is None:

        def load():
            with request.app.state.db.connect() as conn:
                return instrument_or_422(conn, symbol)

        inst = await asyncio.to_thread(load)
        steps = cache[symbol] = _Steps(inst.tick_fen, inst.lot_kg)
    return steps


class _Steps(NamedTuple):
    tick_fen: int
    lot_kg: int


@router.post("/orders", status_code=201, **responses.doc(responses.Order, 201, 200))
async def place_order(
    body: OrderIn, caller: Enterprise, request: Request, response: Response
) -> dict:
    return await place_for(caller.account_id, body, request, response)


async def place_for(account_id: str, body: OrderIn, request: Request, response: Response) -> dict:
    """Place an order owned by `account_id` (an enterprise, or the provincial reserve)."""
    inst = await _instrument_steps(request, body.symbol)
    if body.type == OrderType.LIMIT:
        if body.price is None:
            raise ApiError("price_required", "a limit order needs a price")
        tif = body.time_in_force or TimeInForce.GTC.value
    else:
        if body.price is not None:
            raise ApiError("price_not_allowed", "a market order takes no price")
        tif = body.time_in_force or TimeInForce.IOC.value
        if tif not in (TimeInForce.IOC, TimeInForce.FOK):
            raise ApiError("invalid_time_in_force", "a market order is IOC (or FOK)")
    if body.post_only and tif not in (TimeInForce.GTC, TimeInForce.DAY):
        raise ApiError("invalid_time_in_force", "只挂单（post-only）须为限价单，有效期 GTC 或 DAY")
    _check_steps(inst, body.price, body.quantity)
    fields = {
        "symbol": body.symbol,
        "side": body.side,
        "type": body.type,
        "price_fen": body.price,
        "quantity_kg": body.quantity,
        "time_in_force": tif,
    }
    # Only when given: a request without them hashes, and journals, as before.
    if body.post_only:
        fields["post_only"] = True
    if body.self_trade_prevention is not None:
        fields["self_trade_prevention"] = body.self_trade_prevention
    # The core remembers every client_order_id it accepted and answers a repeat
    # with the original id (or duplicate_client_order_id for another body), so
    # the gateway need not look it up first.
    reply = await submit(
        request,
        commands.PlaceOrder(
            account_id=account_id,
            client_order_id=body.client_order_id,
            request_hash=_request_hash(fields),
            **fields,
        ),
    )
    order_id = str(reply["result"]["order_id"])
    if reply["result"].get("duplicate"):

        def original():
            with request.app.state.db.connect() as conn:
                return _existing(conn, account_id, body.client_order_id)

        response.status_code = 200
        return order_view(await asyncio.to_thread(original))
    return next(o for o in reply["orders"] if o["id"] == order_id)


@router.post("/orders/cancel-all", **responses.doc(responses.Cancelled))
async def cancel_all(caller: Enterprise, request: Request, body: CancelAllIn | None = None) -> dict:
    """Cancel every open order of the caller (in one instrument when `symbol` is given)."""
    symbol = body.symbol if body is not None else None
    reply = await submit(request, commands.CancelAll(account_id=caller.account_id, symbol=symbol))
    return {"cancelled": reply["result"]["cancelled"]}


@router.get("/orders", **responses.doc(responses.Orders, download=True))
def list_orders(
    caller: EnterpriseOrProvince,
    conn: Conn,
    status: ORDER_STATUS | None = None,
    symbol: str | None = None,
    limit: Annotated[AsciiInt, Query(ge=1, le=1000)] = 100,
    cursor: AsciiInt | None = Query(
        None, ge=1, le=MAX_ID, description="list orders with a smaller id"
    ),
    from_: From = None,
    to: To = None,
    format: Format = "json",
):
    query = within_period(select(_orders), _orders.c.created_us, from_, to)
    if caller.role == Role.ENTERPRISE:
        query = query.where(_orders.c.account_id == caller.account_id)
    if status:
        query = query.where(_orders.c.status == status)
    if symbol:
        query = query.where(_orders.c.symbol == symbol)
    if format != "json":
        rows = export_rows(conn, query, _orders.c.id, mappings=True)
        return download(
            format,
            f"orders_{period_label(from_, to)}",
            *orders_table(rows, with_account=caller.role == Role.PROVINCE),
        )
    if cursor:
        query = query.where(_orders.c.id < cursor)
    rows = conn.execute(query.order_by(_orders.c.id.desc()).limit(limit)).mappings().all()
    items = []
    for r in rows:
        view = order_view(r)
        if caller.role == Role.PROVINCE:
            view["account_id"] = r["account_id"]
        items.append(view)
    return {"items": items, "next_cursor": str(rows[-1]["id"]) if len(rows) == limit else None}


def _row_of(conn, account_id: str | None, order_id: str):
    """The order's row; `account_id` None means any owner (the province's view)."""
    if not (order_id.isascii() and order_id.isdigit()) or int(order_id) > MAX_ID:
        raise ApiError("not_found", f"no order {order_id}")
    row = conn.execute(select(_orders).where(_orders.c.id == int(order_id))).mappings().first()
    if row is None or (account_id is not None and row["account_id"] != account_id):
        raise ApiError("not_found", f"no order {order_id}")
    return row


def _owned(conn, caller, order_id: str):
    return _row_of(conn, None if caller.role == Role.PROVINCE else caller.account_id, order_id)


@router.get("/orders/{order_id}", **responses.doc(responses.Order))
def get_order(order_id: str, caller: EnterpriseOrProvince, conn: Conn) -> dict:
    row = _owned(conn, caller, order_id)
    view = order_view(row)
    if caller.role == Role.PROVINCE:
        view["account_id"] = row["account_id"]
    return view


async def _row_off_loop(request: Request, account_id: str, order_id: str):
    """`_row_of` in the thread pool, so the event loop never waits on the database."""

    def read():
        with request.app.state.db.connect() as conn:
            return _row_of(conn, account_id, order_id)

    return await asyncio.to_thread(read)


def _only(reply: dict, order_id: str) -> dict:
    return next(o for o in reply["orders"] if o["id"] == order_id)


@router.delete("/orders/{order_id}", **responses.doc(responses.Order))
async def cancel_order(order_id: str, caller: Enterprise, request: Request) -> dict:
    return await cancel_for(caller.account_id, order_id, request)


async def cancel_for(account_id: str, order_id: str, request: Request) -> dict:
    """Cancel what remains of `account_id`'s order; anyone else's is not found."""
    row = await _row_off_loop(request, account_id, order_id)
    if row["status"] not in _OPEN_STATUSES:
        raise ApiError("order_not_open", f"order {order_id} is {row['status']}")
    reply = await submit(request, commands.CancelOrder(account_id=account_id, order_id=row["id"]))
    return _only(reply, order_id)


@router.patch("/orders/{order_id}", **responses.doc(responses.Order))
async def amend_order(order_id: str, body: AmendIn, caller: Enterprise, request: Request) -> dict:
    if body.quantity is None and body.price is None:
        raise ApiError("invalid_input", "give a new quantity, a new price, or both")
    row = await _row_off_loop(request, caller.account_id, order_id)
    _check_steps(await _instrument_steps(request, row["symbol"]), body.price, body.quantity)
    if row["status"] not in _OPEN_STATUSES:
        raise ApiError("order_not_open", f"order {order_id} is {row['status']}")
    reply = await submit(
        request,
        commands.AmendOrder(
            account_id=caller.account_id,
            order_id=row["id"],
            quantity_kg=body.quantity,
            price_fen=body.price,
        ),
    )
    return _only(reply, order_id)


@router.get("/trades", **responses.doc(responses.Trades, download=True))
def list_trades(
    caller: EnterpriseOrProvince,
    conn: Conn,
    symbol: str | None = None,
    limit: Annotated[AsciiInt, Query(ge=1, le=1000)] = 100,
    cursor: AsciiInt | None = Query(
        None, ge=1, le=MAX_ID, description="list trades with a smaller seq"
    ),
    from_: From = None,
    to: To = None,
    format: Format = "json",
):
    query = within_period(select(_trades), _trades.c.ts_us, from_, to)
    mine = caller.account_id
    if caller.role == Role.ENTERPRISE:
        query = query.where(
            or_(_trades.c.buyer_account_id == mine, _trades.c.seller_account_id == mine)
        )
    if symbol:
        query = query.where(_trades.c.symbol == symbol)
    if format != "json":
        rows = export_rows(conn, query, _trades.c.seq, _trades.c.id)
    else:
        if cursor:
            query = query.where(_trades.c.seq < cursor)
        rows = conn.execute(
            query.order_by(_trades.c.seq.desc(), _trades.c.id.desc()).limit(limit)
        ).all()
    names = {}
    if caller.role == Role.PROVINCE and rows:
        ids = {r.buyer_account_id for r in rows} | {r.seller_account_id for r in rows}
        names = {
            a.id: a
            for a in conn.execute(
                select(_accounts.c.id, _accounts.c.name, _accounts.c.city_code).where(
                    _accounts.c.id.in_(ids)
                )
            )
        }
    items = []
    for r in rows:
        view = {
            "id": r.id,
            "symbol": r.symbol,
            "price": cny(r.price_fen),
            "quantity": tonnes(r.quantity_kg),
            "cash": cny(r.cash_fen),
            "taker_side": r.taker_side,
            "time": iso_time(r.ts_us),
            "seq": r.seq,
        }
        if caller.role == Role.ENTERPRISE:
            bought = r.buyer_account_id == mine
            view["side"] = (Side.BUY if bought else Side.SELL).value
            view["order_id"] = str(r.buyer_order_id if bought else r.seller_order_id)
            view["fee"] = cny(r.buyer_fee_fen if bought else r.seller_fee_fen)
        else:
            b, s = names[r.buyer_account_id], names[r.seller_account_id]
            view["buyer"] = party(b.id, b.name, b.city_code)
            view["seller"] = party(s.id, s.name, s.city_code)
            view["buyer_fee"] = cny(r.buyer_fee_fen)
            view["seller_fee"] = cny(r.seller_fee_fen)
        items.append(view)
    if format != "json":
        stem = f"trades_{period_label(from_, to)}"
        return download(format, stem, *trades_table(rows, items, caller.role == Role.ENTERPRISE))
    return {"items": items, "next_cursor": str(rows[-1].seq) if len(rows) == limit else None}


_ORDER_COLUMNS = [
    Column("委托号", "id", "int"),
    Column("客户委托号", "client_order_id"),
    Column("品种", "symbol"),
    Column("方向", "side"),
    Column("类型", "type"),
    Column("价格(元/吨)", "price_cny_per_t", "cny"),
    Column("数量(吨)", "quantity_t", "tonnes"),
    Column("未成交(吨)", "remaining_t", "tonnes"),
    Column("已成交(吨)", "filled_t", "tonnes"),
    Column("成交均价(元/吨)", "average_price_cny_per_t", "cny"),
    Column("有效期", "time_in_force"),
    Column("状态", "status"),
    Column("撤单原因", "cancel_reason"),
    Column("委托时间", "created_at"),
    Column("更新时间", "updated_at"),
]


def orders_table(rows, with_account: bool) -> tuple[list[Column], list[list]]:
    columns = [*_ORDER_COLUMNS, Column("账户", "account_id")] if with_account else _ORDER_COLUMNS
    table = []
    for r in rows:
        v = order_view(r)
        row = [
            int(v["id"]),
            v["client_order_id"],
            v["symbol"],
            v["side"],
            v["type"],
            v["price"],
            v["quantity"],
            v["remaining_quantity"],
            v["filled_quantity"],
            v["average_price"],
            v["time_in_force"],
            v["status"],
            v["cancel_reason"],
            local_time(r["created_us"]),
            local_time(r["updated_us"]),
        ]
        table.append([*row, r["account_id"]] if with_account else row)
    return columns, table


_TRADE_COLUMNS = [
    Column("成交时间", "time"),
    Column("成交编号", "id"),
    Column("序号", "seq", "int"),
    Column("品种", "symbol"),
    Column("价格(元/吨)", "price_cny_per_t", "cny"),
    Column("数量(吨)", "quantity_t", "tonnes"),
    Column("金额(元)", "cash_cny", "cny"),
    Column("主动方", "taker_side"),
]
_OWN_TRADE_COLUMNS = [
    Column("方向", "side"),
    Column("委托号", "order_id"),
    Column("手续费(元)", "fee_cny", "cny"),
]
_ALL_TRADE_COLUMNS = [
    Column("买方账户", "buyer_account_id"),
    Column("买方", "buyer"),
    Column("买方城市", "buyer_city_code"),
    Column("卖方账户", "seller_account_id"),
    Column("卖方", "seller"),
    Column("卖方城市", "seller_city_code"),
    Column("买方手续费(元)", "buyer_fee_cny", "cny"),
    Column("卖方手续费(元)", "seller_fee_cny", "cny"),
]


def trades_table(rows, items: list[dict], own: bool) -> tuple[list[Column], list[list]]:
    """The views above as rows: an enterprise's own side, or both parties."""
    table = []
    for r, v in zip(rows, items, strict=True):
        row = [
            local_time(r.ts_us),
            v["id"],
            v["seq"],
            v["symbol"],
            v["price"],
            v["quantity"],
            v["cash"],
            v["taker_side"],
        ]
        if own:
            row += [v["side"], v["order_id"], v["fee"]]
        else:
            b, s = v["buyer"], v["seller"]
            row += [
                b["account_id"],
                b["name"],
                b["city_code"],
                s["account_id"],
                s["name"],
                s["city_code"],
                v["buyer_fee"],
                v["seller_fee"],
            ]
        table.append(row)
    return [*_TRADE_COLUMNS, *(_OWN_TRADE_COLUMNS if own else _ALL_TRADE_COLUMNS)], table
