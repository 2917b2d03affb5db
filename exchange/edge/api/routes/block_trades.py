"""Block trades (协议转让): the seller proposes to a named buyer, who accepts or
rejects; the seller may withdraw while it is pending. Only the two parties and the
province see one."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import or_, select

from exchange.core import commands
from exchange.core.views import block_trade_view
from exchange.edge.api import responses
from exchange.edge.api.deps import (
    Caller,
    Conn,
    Enterprise,
    EnterpriseOrProvince,
    NoNul,
    read,
    submit,
)
from exchange.edge.api.errors import ApiError
from exchange.edge.api.lookups import instrument_or_422
from exchange.edge.api.schemas import BlockTradeIn
from exchange.infra.db import primary_market
from settlement.accounts import Role

router = APIRouter(prefix="/api/v1", tags=["block-trades"], dependencies=[NoNul])
_blocks = primary_market.BlockTrade.__table__


def _visible(conn, block_id: str, caller: Caller):
    row = conn.execute(select(_blocks).where(_blocks.c.id == block_id)).mappings().first()
    parties = (row["seller_account_id"], row["buyer_account_id"]) if row else ()
    if row is None or (caller.role != Role.PROVINCE and caller.account_id not in parties):
        raise ApiError("block_trade_not_found", f"no block trade {block_id}")
    return row


async def _view(request: Request, block_id: str, caller: Caller) -> dict:
    return await read(request, lambda conn: block_trade_view(_visible(conn, block_id, caller)))


@router.get("/block-trades", **responses.doc(responses.BlockTrades))
def list_block_trades(caller: EnterpriseOrProvince, conn: Conn) -> dict:
    query = select(_blocks)
    if caller.role != Role.PROVINCE:
        query = query.where(
            or_(
                _blocks.c.seller_account_id == caller.account_id,
                _blocks.c.buyer_account_id == caller.account_id,
            )
        )
    rows = conn.execute(query.order_by(_blocks.c.created_seq.desc())).mappings().all()
    return {"items": [block_trade_view(r) for r in rows]}


@router.get("/block-trades/{block_id}", **responses.doc(responses.BlockTrade))
def get_block_trade(block_id: str, caller: EnterpriseOrProvince, conn: Conn) -> dict:
    return block_trade_view(_visible(conn, block_id, caller))


@router.post("/block-trades", status_code=201, **responses.doc(responses.BlockTrade, 201))
async def propose(body: BlockTradeIn, caller: Enterprise, request: Request) -> dict:
    settings = request.app.state.settings
    await read(request, instrument_or_422, body.symbol)
    reply = await submit(
        request,
        commands.ProposeBlockTrade(
            account_id=caller.account_id,
            buyer_account_id=body.buyer_account_id,
            symbol=body.symbol,
            price_fen=body.price,
            quantity_kg=body.quantity,
            note=body.note,
            band_pct=settings.block_band_pct,
            min_quantity_kg=int(settings.block_min_quantity * 1000),
        ),
    )
    return await _view(request, reply["result"]["block_id"], caller)


async def _decide(request: Request, block_id: str, caller: Caller, action: str) -> dict:
    await read(request, _visible, block_id, caller)
    await submit(
        request,
        commands.DecideBlockTrade(
            block_id=block_id,
            account_id=caller.account_id,
            action=action,
        ),
    )
    return await _view(request, block_id, caller)


@router.post("/block-trades/{block_id}/accept", **responses.doc(responses.BlockTrade))
async def accept(block_id: str, caller: Enterprise, request: Request) -> dict:
    return await _decide(request, block_id, caller, "accept")


@router.post("/block-trades/{block_id}/reject", **responses.doc(responses.BlockTrade))
async def reject(block_id: str, caller: Enterprise, request: Request) -> dict:
    return await _decide(request, block_id, caller, "reject")


@router.delete("/block-trades/{block_id}", **responses.doc(responses.BlockTrade))
async def withdraw(block_id: str, caller: Enterprise, request: Request) -> dict:
    return await _decide(request, block_id, caller, "withdraw")
