"""Auctions of quota from the provincial reserve (拍卖): uniform price, sealed bids.

The province opens and closes them; enterprises bid. While an auction is open an
enterprise sees only its own bids: they are sealed."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import select

from exchange.core import commands
from exchange.core.units import cny, iso_time, tonnes
from exchange.edge.api import responses
from exchange.edge.api.deps import (
    Caller,
    Conn,
    Enterprise,
    EnterpriseOrProvince,
    NoNul,
    Province,
    read,
    submit,
)
from exchange.edge.api.errors import ApiError
from exchange.edge.api.lookups import instrument_or_422
from exchange.edge.api.schemas import AuctionIn, BidIn
from exchange.infra.db import primary_market
from settlement.accounts import Role
from settlement.auctions import AuctionStatus

router = APIRouter(prefix="/api/v1", tags=["auctions"], dependencies=[NoNul])
_auctions = primary_market.Auction.__table__
_bids = primary_market.AuctionBid.__table__


def bid_view(b, cleared: bool) -> dict:
    return {
        "id": b.id,
        "auction_id": b.auction_id,
        "account_id": b.account_id,
        "price": cny(b.price_fen),
        "quantity": tonnes(b.quantity_kg),
        "status": b.status,
        "awarded_quantity": tonnes(b.awarded_kg) if cleared else None,
        "paid": cny(b.paid_fen) if cleared else None,
        "fee": cny(b.fee_fen) if cleared else None,
        "time": iso_time(b.created_us),
    }


def auction_view(conn, a, caller: Caller) -> dict:
    query = select(_bids).where(_bids.c.auction_id == a.id)
    if caller.role != Role.PROVINCE:
        query = query.where(_bids.c.account_id == caller.account_id)
    cleared = a.status == AuctionStatus.CLEARED
    bids = conn.execute(query.order_by(_bids.c.seq)).all()
    return {
        "id": a.id,
        "symbol": a.symbol,
        "quantity": tonnes(a.quantity_kg),
        "reserve_price": cny(a.reserve_price_fen),
        "bidder_cap_pct": a.bidder_cap_pct,
        "note": a.note,
        "status": a.status,
        "clearing_price": cny(a.clearing_price_fen) if a.clearing_price_fen else None,
        "sold_quantity": tonnes(a.sold_kg),
        "opened_at": iso_time(a.created_us),
        "closed_at": iso_time(a.closed_us),
        "bids": [bid_view(b, cleared) for b in bids],
    }


def _load(conn, auction_id: str):
    row = conn.execute(select(_auctions).where(_auctions.c.id == auction_id)).first()
    if row is None:
        raise ApiError("auction_not_found", f"no auction {auction_id}")
    return row


async def _view(request: Request, auction_id: str, caller: Caller) -> dict:
    return await read(request, lambda conn: auction_view(conn, _load(conn, auction_id), caller))


@router.get("/auctions", **responses.doc(responses.Auctions))
def list_auctions(caller: EnterpriseOrProvince, conn: Conn) -> dict:
    rows = conn.execute(select(_auctions).order_by(_auctions.c.created_seq.desc())).all()
    return {"items": [auction_view(conn, a, caller) for a in rows]}


@router.get("/auctions/{auction_id}", **responses.doc(responses.Auction))
def get_auction(auction_id: str, caller: EnterpriseOrProvince, conn: Conn) -> dict:
    return auction_view(conn, _load(conn, auction_id), caller)


@router.post("/auctions", status_code=201, **responses.doc(responses.Auction, 201))
async def open_auction(body: AuctionIn, caller: Province, request: Request) -> dict:
    await read(request, instrument_or_422, body.symbol)
    reply = await submit(
        request,
        commands.OpenAuction(
            symbol=body.symbol,
            quantity_kg=body.quantity,
            reserve_price_fen=body.reserve_price,
            bidder_cap_pct=body.bidder_cap_pct,
            note=body.note,
        ),
    )
    return await _view(request, reply["result"]["auction_id"], caller)


@router.post("/auctions/{auction_id}/bids", status_code=201, **responses.doc(responses.Bid, 201))
async def place_bid(auction_id: str, body: BidIn, caller: Enterprise, request: Request) -> dict:
    reply = await submit(
        request,
        commands.PlaceBid(
            auction_id=auction_id,
            account_id=caller.account_id,
            price_fen=body.price,
            quantity_kg=body.quantity,
        ),
    )
    return await _bid(request, reply["result"]["bid_id"])


@router.delete("/auctions/{auction_id}/bids/{bid_id}", **responses.doc(responses.Bid))
async def withdraw_bid(auction_id: str, bid_id: str, caller: Enterprise, request: Request) -> dict:
    row = await read(
        request, lambda conn: conn.execute(select(_bids).where(_bids.c.id == bid_id)).first()
    )
    if row is None or row.auction_id != auction_id or row.account_id != caller.account_id:
        raise ApiError("bid_not_found", f"no bid {bid_id} of yours in auction {auction_id}")
    await submit(request, commands.WithdrawBid(bid_id=bid_id, account_id=caller.account_id))
    return await _bid(request, bid_id)


@router.post("/auctions/{auction_id}/close", **responses.doc(responses.Auction))
async def close_auction(auction_id: str, caller: Province, request: Request) -> dict:
    await submit(request, commands.CloseAuction(auction_id=auction_id))
    return await _view(request, auction_id, caller)


async def _bid(request: Request, bid_id: str) -> dict:
    def view(conn) -> dict:
        b = conn.execute(select(_bids).where(_bids.c.id == bid_id)).one()
        a = _load(conn, b.auction_id)
        return bid_view(b, a.status == AuctionStatus.CLEARED)

    return await read(request, view)
