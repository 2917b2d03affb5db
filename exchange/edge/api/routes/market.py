"""Instruments and public market data, plus the province's market controls."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy import select

from exchange.core import commands
from exchange.core.market import EXPIRED, CandleInterval
from exchange.core.regulation import FIRST_YEAR, LAST_YEAR
from exchange.core.units import cny, end_of_day_us, iso_time, tonnes
from exchange.core.views import levels_view, public_trade_view, ticker_view
from exchange.edge.api import responses, vocabulary
from exchange.edge.api.deps import Conn, NoNul, Province, ProvinceOrOperator, read, submit
from exchange.edge.api.errors import ApiError
from exchange.edge.api.schemas import MAX_ID, AsciiInt, InstrumentIn
from exchange.infra.db import market as market_models
from exchange.infra.db import models
from matching_engine.types import Side

router = APIRouter(prefix="/api/v1", tags=["market"], dependencies=[NoNul])


def instrument_view(r) -> dict:
    bps = r.band_bps
    return {
        "symbol": r.symbol,
        "pollutant": r.pollutant,
        "vintage": r.vintage,
        "tick_size": cny(r.tick_fen),
        "lot_size": tonnes(r.lot_kg),
        "reference_price": cny(r.reference_price_fen),
        "price_band_pct": f"{bps // 100}.{bps % 100:02d}",
        "status": EXPIRED if r.expired_us is not None else r.status,
        "valid_until": r.valid_until,
    }


def _end_of_day_us(day: str) -> int:
    try:
        valid_until = date.fromisoformat(day)
    except ValueError:
        raise ApiError("invalid_date", f"valid_until {day!r} is not a date") from None
    if not FIRST_YEAR <= valid_until.year <= LAST_YEAR:
        raise ApiError("invalid_date", f"valid_until must be in {FIRST_YEAR}..{LAST_YEAR}")
    return end_of_day_us(valid_until)


def load_instrument(conn, symbol: str):
    i = models.Instrument.__table__
    row = conn.execute(select(i).where(i.c.symbol == symbol)).first()
    if row is None:
        raise ApiError("not_found", f"no instrument {symbol}")
    return row


@router.get("/instruments", **responses.doc(responses.Instruments))
def list_instruments(conn: Conn) -> dict:
    i = models.Instrument.__table__
    return {"items": [instrument_view(r) for r in conn.execute(select(i).order_by(i.c.symbol))]}


_PLAIN_DECIMAL = re.compile(r"[0-9]{1,3}(?:\.[0-9]*)?")


def _band_bps(text: str) -> int:
    # the same plain-decimal rule as every other decimal on the wire: no exponent, sign,
    # NaN or spaces (Decimal() alone would take '1e1' and ' 10')
    if not _PLAIN_DECIMAL.fullmatch(text):
        raise ApiError("invalid_input", "price_band_pct must be a plain decimal string like '10'")
    try:
        pct = Decimal(text)
    except InvalidOperation:
        raise ApiError("invalid_input", "price_band_pct must be a decimal string") from None
    if not pct.is_finite() or pct <= 0 or pct > 100 or (pct * 100) != int(pct * 100):
        raise ApiError(
            "invalid_input", "price_band_pct must be in (0, 100] with at most 2 decimals"
        )
    return int(pct * 100)


@router.post("/instruments", status_code=201, **responses.doc(responses.Instrument, 201))
async def create_instrument(body: InstrumentIn, caller: Province, request: Request) -> dict:
    bps = _band_bps(body.price_band_pct)
    if body.reference_price % body.tick_size:
        raise ApiError("price_off_tick", "reference_price is not on the tick")
    validity = {}
    if body.valid_until is not None:
        validity = {
            "valid_until": body.valid_until,
            "valid_until_end_us": _end_of_day_us(body.valid_until),
        }
    await submit(
        request,
        commands.ListInstrument(
            **validity,
            symbol=body.symbol,
            pollutant=body.pollutant,
            vintage=body.vintage,
            tick_fen=body.tick_size,
            lot_kg=body.lot_size,
            reference_price_fen=body.reference_price,
            band_bps=bps,
        ),
    )
    return await read(request, lambda conn: instrument_view(load_instrument(conn, body.symbol)))


async def _control(
    request: Request,
    kind: type[commands.Halt | commands.Resume | commands.CloseSession],
    symbol: str,
) -> dict:
    await read(request, load_instrument, symbol)
    await submit(request, kind(symbol=symbol))
    return await read(request, lambda conn: instrument_view(load_instrument(conn, symbol)))


@router.post("/market/{symbol}/halt", **responses.doc(responses.Instrument))
async def halt(symbol: str, caller: Province, request: Request) -> dict:
    return await _control(request, commands.Halt, symbol)


@router.post("/market/{symbol}/resume", **responses.doc(responses.Instrument))
async def resume(symbol: str, caller: Province, request: Request) -> dict:
    return await _control(request, commands.Resume, symbol)


@router.post("/market/{symbol}/close-session", **responses.doc(responses.Instrument))
async def close_session(symbol: str, caller: ProvinceOrOperator, request: Request) -> dict:
    return await _control(request, commands.CloseSession, symbol)


def book_snapshot(conn, symbol: str, depth: int) -> dict:
    load_instrument(conn, symbol)
    lv, ms = market_models.BookLevel.__table__, market_models.MarketSession.__table__
    # one read transaction, so the levels and the seq belong together
    seq_row = conn.execute(select(ms.c.book_seq).where(ms.c.symbol == symbol)).first()
    bids = conn.execute(
        select(lv.c.price_fen, lv.c.quantity_kg)
        .where(lv.c.symbol == symbol, lv.c.side == Side.BUY.value)
        .order_by(lv.c.price_fen.desc())
        .limit(depth)
    ).all()
    asks = conn.execute(
        select(lv.c.price_fen, lv.c.quantity_kg)
        .where(lv.c.symbol == symbol, lv.c.side == Side.SELL.value)
        .order_by(lv.c.price_fen.asc())
        .limit(depth)
    ).all()
    return {
        "symbol": symbol,
        "seq": seq_row.book_seq if seq_row else 0,
        "bids": levels_view(bids),
        "asks": levels_view(asks),
    }


@router.get("/market/{symbol}/book", **responses.doc(responses.Book))
def book(symbol: str, conn: Conn, depth: Annotated[AsciiInt, Query(ge=1, le=1000)] = 20) -> dict:
    with conn.begin():
        return book_snapshot(conn, symbol, depth)


@router.get("/market/{symbol}/trades", **responses.doc(responses.PublicTrades))
def trades(
    symbol: str,
    conn: Conn,
    limit: Annotated[AsciiInt, Query(ge=1, le=1000)] = 100,
    before_seq: AsciiInt | None = Query(None, ge=1, le=MAX_ID),
) -> dict:
    load_instrument(conn, symbol)
    t = models.Trade.__table__
    query = select(t).where(t.c.symbol == symbol)
    if before_seq is not None:
        query = query.where(t.c.seq < before_seq)
    rows = conn.execute(query.order_by(t.c.seq.desc(), t.c.id.desc()).limit(limit)).mappings().all()
    items = [public_trade_view(r) for r in rows]
    next_cursor = str(rows[-1]["seq"]) if len(rows) == limit else None
    return {"items": items, "next_cursor": next_cursor}


@router.get("/market/{symbol}/ticker", **responses.doc(responses.Ticker))
def ticker(symbol: str, conn: Conn) -> dict:
    load_instrument(conn, symbol)
    ms = market_models.MarketSession.__table__
    row = conn.execute(select(ms).where(ms.c.symbol == symbol)).mappings().first()
    return {"symbol": symbol, **ticker_view(row)}


@router.get("/market/{symbol}/candles", **responses.doc(responses.Candles))
def candles(
    symbol: str,
    conn: Conn,
    interval: vocabulary.CANDLE_INTERVAL = CandleInterval.M1.value,
    limit: Annotated[AsciiInt, Query(ge=1, le=1000)] = 500,
) -> dict:
    load_instrument(conn, symbol)
    c = models.Candle.__table__
    rows = conn.execute(
        select(c)
        .where(c.c.symbol == symbol, c.c.interval == interval)
        .order_by(c.c.bucket_us.desc())
        .limit(limit)
    ).all()
    return {
        "items": [
            {
                "time": iso_time(r.bucket_us),
                "open": cny(r.open_fen),
                "high": cny(r.high_fen),
                "low": cny(r.low_fen),
                "close": cny(r.close_fen),
                "volume": tonnes(r.volume_kg),
            }
            for r in reversed(rows)
        ]
    }
