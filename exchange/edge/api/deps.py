"""Typed dependencies: the database, the caller behind the bearer token, role guards."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Connection, select

from exchange.core.commands import Command
from exchange.edge import auth, sessions
from exchange.edge.api.errors import ApiError
from exchange.edge.sessions import TokenCache
from exchange.infra.bus import CommandTimeout
from exchange.infra.db import models
from settlement.accounts import Role


@dataclass(frozen=True, slots=True)
class Caller:
    account_id: str
    role: str
    city_code: str | None
    name: str
    token_hash: str = ""
    expires_us: int = 0


def connection(request: Request):
    with request.app.state.db.connect() as conn:
        yield conn


Conn = Annotated[Connection, Depends(connection)]


async def no_nul_characters(request: Request) -> None:
    """A NUL in the path or the query names nothing, and PostgreSQL text cannot hold
    one: refuse it as invalid input before it reaches a query (it was a 500)."""
    if "\x00" in request.scope.get("path", "") or any(
        "\x00" in key or "\x00" in value for key, value in request.query_params.multi_items()
    ):
        raise ApiError("invalid_input", "the path or query contains a NUL character", 422)


NoNul = Depends(no_nul_characters)


def bearer_token(header: str) -> str:
    """The token of an `Authorization: Bearer …` header value."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError("unauthorized", "a bearer token is required", 401)
    return token.strip()


class SessionEnded(Exception):
    """The token was valid once and has expired."""


def caller_for_token(app, token: str) -> Caller | None:
    """The caller behind a token, or None if the token is unknown or revoked; raises
    SessionEnded if it has expired. Cached briefly (see exchange.edge.sessions)."""
    token_hash = auth.token_hash(token)
    cache: TokenCache = app.state.token_cache
    hit = cache.get(token_hash, sessions.now_us())
    if hit is TokenCache.EXPIRED:
        raise SessionEnded
    if hit is not None:
        return hit
    t, a = models.Token.__table__, models.Account.__table__
    with app.state.db.connect() as conn:
        row = conn.execute(
            select(
                t.c.account_id, t.c.role, t.c.created_us, t.c.expires_us, a.c.city_code, a.c.name
            )
            .join(a, a.c.id == t.c.account_id)
            .where(t.c.token_hash == token_hash)
        ).first()
    if row is None:
        return None
    expires_us = sessions.expiry_us(row.created_us, row.expires_us, app.state.settings.token_ttl_s)
    if sessions.now_us() >= expires_us:
        raise SessionEnded
    caller = Caller(row.account_id, row.role, row.city_code, row.name, token_hash, expires_us)
    cache.put(token_hash, caller, expires_us)
    return caller


def _cached_caller(app, token: str) -> Caller | None:
    hit = app.state.token_cache.get(auth.token_hash(token), sessions.now_us())
    if hit is TokenCache.EXPIRED:
        raise SessionEnded
    return hit


async def current_caller(request: Request) -> Caller:
    return await authenticate(request.app, request.headers.get("authorization", ""))


async def authenticate(app, authorization: str) -> Caller:
    """The caller behind an `Authorization` header value, charged one request of its
    rate limit (also the order path below FastAPI, exchange.edge.api.fast_orders)."""
    # async, so a cached token costs no hop to the thread pool; a miss reads the table there
    token = bearer_token(authorization)
    try:
        caller = _cached_caller(app, token)
        if caller is None:
            caller = await asyncio.to_thread(caller_for_token, app, token)
    except SessionEnded:
        raise ApiError(
            "token_expired", "登录已过期，请重新登录 (the session has expired; log in again)", 401
        ) from None
    if caller is None:
        raise ApiError("unauthorized", "the token is not valid", 401)
    wait = app.state.rate_limiter.retry_after(caller.token_hash, time.monotonic())
    if wait is not None:
        raise ApiError(
            "rate_limited",
            f"请求过于频繁，请 {wait} 秒后再试 (too many requests; retry in {wait} s)",
            429,
            headers={"Retry-After": str(wait)},
        )
    return caller


CurrentCaller = Annotated[Caller, Depends(current_caller)]


def check_role(caller: Caller, roles: tuple[str, ...]) -> Caller:
    if caller.role not in roles:
        raise ApiError(
            "forbidden", f"this needs the role {' or '.join(roles)}; you are {caller.role}", 403
        )
    return caller


def require(*roles: str):
    async def guard(caller: CurrentCaller) -> Caller:
        return check_role(caller, roles)

    return Depends(guard)


Enterprise = Annotated[Caller, require(Role.ENTERPRISE)]
Operator = Annotated[Caller, require(Role.OPERATOR)]
Province = Annotated[Caller, require(Role.PROVINCE)]
Bureau = Annotated[Caller, require(Role.CITY_BUREAU)]
ProvinceOrOperator = Annotated[Caller, require(Role.PROVINCE, Role.OPERATOR)]
BureauOrProvince = Annotated[Caller, require(Role.CITY_BUREAU, Role.PROVINCE)]
EnterpriseOrBureau = Annotated[Caller, require(Role.ENTERPRISE, Role.CITY_BUREAU)]
EnterpriseOrProvince = Annotated[Caller, require(Role.ENTERPRISE, Role.PROVINCE)]
Regulator = Annotated[Caller, require(Role.PROVINCE, Role.CITY_BUREAU)]


async def submit(request: Request, command: Command) -> dict:
    """Send a command to the core and return its reply; a refusal becomes an ApiError."""
    try:
        reply = await request.app.state.commands.submit(command)
    except CommandTimeout:
        raise ApiError("timeout", "the core did not answer in time; retry", 503) from None
    if reply.get("error"):
        err = reply["error"]
        raise ApiError(err["code"], err["message"])
    # answered in the X-Emx-Seq header (exchange.bootstrap.SeqHeader); /ws/trade calls the
    # handlers with a request that has only `.app`, and acks with the order instead
    state = getattr(request, "state", None)
    if state is not None:
        state.emx_seq = reply["seq"]
    return reply


async def read(request: Request, query, *args):
    """`query(conn, *args)` on a connection of its own in a worker thread: a handler
    that awaits never waits on the database on the event loop."""

    def run():
        with request.app.state.db.connect() as conn:
            return query(conn, *args)

    return await asyncio.to_thread(run)
