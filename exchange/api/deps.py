"""Typed dependencies: the database, the caller behind the bearer token, role guards."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Connection, Engine, select

from exchange import auth
from exchange.api.errors import ApiError
from exchange.bus import CommandTimeout
from exchange.db import models as m

TOKEN_CACHE_SECONDS = 30


@dataclass(frozen=True, slots=True)
class Caller:
    account_id: str
    role: str
    city_code: str | None
    name: str


def get_db(request: Request) -> Engine:
    return request.app.state.db


def connection(request: Request):
    with request.app.state.db.connect() as conn:
        yield conn


DB = Annotated[Engine, Depends(get_db)]
Conn = Annotated[Connection, Depends(connection)]


async def no_nul_characters(request: Request) -> None:
    """A NUL in the path or the query names nothing, and PostgreSQL text cannot hold
    one: refuse it as invalid input before it reaches a query (it was a 500)."""
    if "\x00" in request.scope.get("path", "") or any(
        "\x00" in key or "\x00" in value for key, value in request.query_params.multi_items()
    ):
        raise ApiError("invalid_input", "the path or query contains a NUL character", 422)


NoNul = Depends(no_nul_characters)


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError("unauthorized", "a bearer token is required", 401)
    return token.strip()


def caller_for_token(app, token: str) -> Caller | None:
    """Resolve a token (cached briefly: every request would otherwise read the table)."""
    cached = _cached_caller(app, token)
    if cached is not None:
        return cached
    token_hash = auth.token_hash(token)
    cache: dict = app.state.token_cache
    t, a = m.Token.__table__, m.Account.__table__
    with app.state.db.connect() as conn:
        row = conn.execute(
            select(t.c.account_id, t.c.role, t.c.expires_us, a.c.city_code, a.c.name)
            .join(a, a.c.id == t.c.account_id)
            .where(t.c.token_hash == token_hash)
        ).first()
    if row is None:
        return None
    if row.expires_us is not None and row.expires_us < time.time_ns() // 1000:
        return None
    caller = Caller(row.account_id, row.role, row.city_code, row.name)
    if len(cache) > 100_000:
        cache.clear()
    cache[token_hash] = (time.monotonic() + TOKEN_CACHE_SECONDS, caller)
    return caller


def _cached_caller(app, token: str) -> Caller | None:
    hit = app.state.token_cache.get(auth.token_hash(token))
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    return None


async def current_caller(request: Request) -> Caller:
    # async, so a cached token costs no hop to the thread pool; a miss reads the table there
    token = _bearer(request)
    caller = _cached_caller(request.app, token)
    if caller is None:
        caller = await asyncio.to_thread(caller_for_token, request.app, token)
    if caller is None:
        raise ApiError("unauthorized", "the token is not valid", 401)
    return caller


CurrentCaller = Annotated[Caller, Depends(current_caller)]


def require(*roles: str):
    async def guard(caller: CurrentCaller) -> Caller:
        if caller.role not in roles:
            raise ApiError(
                "forbidden", f"this needs the role {' or '.join(roles)}; you are {caller.role}", 403
            )
        return caller

    return Depends(guard)


Enterprise = Annotated[Caller, require("enterprise")]
Operator = Annotated[Caller, require("operator")]
Province = Annotated[Caller, require("province")]
Bureau = Annotated[Caller, require("city_bureau")]
ProvinceOrOperator = Annotated[Caller, require("province", "operator")]
BureauOrProvince = Annotated[Caller, require("city_bureau", "province")]
EnterpriseOrBureau = Annotated[Caller, require("enterprise", "city_bureau")]
EnterpriseOrProvince = Annotated[Caller, require("enterprise", "province")]
Regulator = Annotated[Caller, require("province", "city_bureau")]


async def submit(request: Request, command: dict) -> dict:
    """Send a command to the core and return its reply; a refusal becomes an ApiError."""
    try:
        reply = await request.app.state.commands.submit(command)
    except CommandTimeout:
        raise ApiError("timeout", "the core did not answer in time; retry", 503) from None
    if reply.get("error"):
        err = reply["error"]
        raise ApiError(err["code"], err["message"])
    return reply
