"""The provincial reserve (DOMAIN: the province runs it): it buys and sells on the
market like an enterprise and releases quota to city pools."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from exchange.core import commands
from exchange.core.units import tonnes
from exchange.edge.api import responses
from exchange.edge.api.deps import Conn, NoNul, Province, read, submit
from exchange.edge.api.errors import ApiError
from exchange.edge.api.lookups import instrument_or_422
from exchange.edge.api.routes.accounts import account_view
from exchange.edge.api.routes.orders import cancel_for, place_for
from exchange.edge.api.schemas import OrderIn, ReserveReleaseIn
from settlement.accounts import RESERVE_ACCOUNT
from settlement.cities import CITY_CODES

router = APIRouter(prefix="/api/v1", tags=["reserve"], dependencies=[NoNul])


@router.get("/reserve", **responses.doc(responses.Account))
def reserve(caller: Province, conn: Conn) -> dict:
    """The reserve's cash and allowances, shaped like GET /accounts/me."""
    return account_view(conn, RESERVE_ACCOUNT)


@router.post("/reserve/orders", status_code=201, **responses.doc(responses.Order, 201, 200))
async def place_reserve_order(
    body: OrderIn, caller: Province, request: Request, response: Response
) -> dict:
    return await place_for(RESERVE_ACCOUNT, body, request, response)


@router.delete("/reserve/orders/{order_id}", **responses.doc(responses.Order))
async def cancel_reserve_order(order_id: str, caller: Province, request: Request) -> dict:
    return await cancel_for(RESERVE_ACCOUNT, order_id, request)


@router.post("/reserve/releases", status_code=201, **responses.doc(responses.Release, 201))
async def release_reserve(body: ReserveReleaseIn, caller: Province, request: Request) -> dict:
    if body.city_code not in CITY_CODES:
        raise ApiError("unknown_city", f"{body.city_code!r} is not a Guangdong city code")
    await read(request, instrument_or_422, body.symbol)
    await submit(
        request,
        commands.ReleaseReserve(
            city_code=body.city_code,
            symbol=body.symbol,
            quantity_kg=body.quantity,
        ),
    )
    return {"city_code": body.city_code, "symbol": body.symbol, "quantity": tonnes(body.quantity)}
