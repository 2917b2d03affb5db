"""Sessions, accounts and cash."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from sqlalchemy import insert, select

from exchange.core import commands
from exchange.core.units import cny, shanghai_time, tonnes
from exchange.edge import auth, sessions
from exchange.edge.api import responses
from exchange.edge.api.deps import (
    Conn,
    CurrentCaller,
    NoNul,
    Operator,
    ProvinceOrOperator,
    read,
    submit,
)
from exchange.edge.api.errors import ApiError
from exchange.edge.api.schemas import AccountIn, AmountIn, SessionIn
from exchange.edge.throttle import HashingBusy
from exchange.infra.db import models
from exchange.passwords import weakness
from settlement.accounts import Role
from settlement.cities import CITY_CODES

router = APIRouter(prefix="/api/v1", tags=["accounts"], dependencies=[NoNul])


def _too_many_attempts(retry_after: int) -> ApiError:
    return ApiError(
        "too_many_attempts",
        f"登录失败次数过多，请 {retry_after} 秒后再试 "
        f"(too many failed logins; try again in {retry_after} s)",
        429,
        headers={"Retry-After": str(retry_after)},
    )


@router.post("/session", **responses.doc(responses.Session))
async def create_session(body: SessionIn, request: Request) -> dict:
    app = request.app
    db = app.state.db
    c = models.Credential.__table__
    address = request.client.host if request.client else ""
    throttle = app.state.login_throttle
    wait = await throttle.retry_after(body.username, address)
    if wait is not None:
        raise _too_many_attempts(wait)

    def lookup():
        with db.connect() as conn:
            return conn.execute(select(c).where(c.c.username == body.username)).first()

    row = await asyncio.to_thread(lookup)
    # verify even for an unknown user so timing does not reveal which usernames exist
    stored = row.password_hash if row else app.state.dummy_hash
    try:
        ok = await app.state.hashing.run(auth.verify_password, stored, body.password)
    except HashingBusy:
        raise ApiError(
            "rate_limited",
            "登录请求过多，请稍后再试 (too many logins at once; retry)",
            429,
            headers={"Retry-After": "1"},
        ) from None
    if row is None or not ok:
        await throttle.failed(body.username, address)
        raise ApiError("invalid_credentials", "wrong username or password", 401)
    await throttle.succeeded(body.username)
    token, token_hash = auth.new_token()
    now = sessions.now_us()
    expires_us = now + app.state.settings.token_ttl_s * 1_000_000

    def store():
        with db.begin() as conn:
            conn.execute(
                insert(models.Token.__table__),
                {
                    "token_hash": token_hash,
                    "account_id": row.account_id,
                    "role": row.role,
                    "created_us": now,
                    "expires_us": expires_us,
                },
            )

    await asyncio.to_thread(store)
    return {
        "token": token,
        "role": row.role,
        "account_id": row.account_id,
        "city_code": row.city_code,
        "expires_at": shanghai_time(expires_us),
    }


@router.delete("/session", status_code=204)
async def end_session(caller: CurrentCaller, request: Request) -> Response:
    app = request.app
    t = models.Token.__table__

    def delete():
        with app.state.db.begin() as conn:
            conn.execute(t.delete().where(t.c.token_hash == caller.token_hash))

    await asyncio.to_thread(delete)
    app.state.token_cache.drop(caller.token_hash)
    await app.state.live_feeds.close_all(caller.token_hash, 4401, "the session has ended")
    await sessions.publish_revocation(app.state.bus, caller.token_hash)
    return Response(status_code=204)


@router.post("/accounts", status_code=201, **responses.doc(responses.NewAccount, 201))
async def create_account(body: AccountIn, caller: Operator, request: Request) -> dict:
    if body.role in (Role.ENTERPRISE, Role.CITY_BUREAU):
        if body.city_code not in CITY_CODES:
            raise ApiError("unknown_city", f"{body.city_code!r} is not a Guangdong city code")
    elif body.city_code is not None and body.city_code not in CITY_CODES:
        raise ApiError("unknown_city", f"{body.city_code!r} is not a Guangdong city code")
    problem = weakness(body.password)
    if problem:
        raise ApiError("weak_password", problem, 422)
    try:
        password_hash = await request.app.state.hashing.run(auth.hash_password, body.password)
    except HashingBusy:
        raise ApiError("rate_limited", "服务繁忙，请稍后再试 (busy; retry)", 429) from None
    reply = await submit(
        request,
        commands.OpenAccount(
            username=body.username,
            password_hash=password_hash,
            name=body.name,
            role=body.role,
            city_code=body.city_code,
        ),
    )
    return {
        "id": reply["result"]["account_id"],
        "username": body.username,
        "name": body.name,
        "role": body.role,
        "city_code": body.city_code,
    }


def account_view(conn, account_id: str) -> dict:
    a, h = models.Account.__table__, models.Holding.__table__
    acc = conn.execute(select(a).where(a.c.id == account_id)).first()
    if acc is None:
        raise ApiError("not_found", f"no account {account_id}")
    holders = [account_id]
    pool_id = None
    if acc.role == Role.CITY_BUREAU and acc.city_code:
        pool_id = f"POOL-{acc.city_code}"
        holders.append(pool_id)
    holdings = conn.execute(select(h).where(h.c.account_id.in_(holders))).all()

    def allowances(owner: str) -> dict:
        return {
            row.symbol: {
                "available": tonnes(row.available_kg),
                "locked": tonnes(row.locked_kg),
                "used": tonnes(row.used_kg),
            }
            for row in holdings
            if row.account_id == owner
        }

    view = {
        "id": acc.id,
        "name": acc.name,
        "role": acc.role,
        "city_code": acc.city_code,
        "cash": {"available": cny(acc.cash_available_fen), "locked": cny(acc.cash_locked_fen)},
        "allowances": allowances(account_id),
    }
    if pool_id:
        view["city_pool"] = {"id": pool_id, "allowances": allowances(pool_id)}
    return view


@router.get("/accounts/me", **responses.doc(responses.Account))
def me(caller: CurrentCaller, conn: Conn) -> dict:
    return account_view(conn, caller.account_id)


@router.get("/accounts/fees", **responses.doc(responses.Fees))
def fees(caller: ProvinceOrOperator, conn: Conn) -> dict:
    a = models.Account.__table__
    row = conn.execute(select(a).where(a.c.id == "FEES")).first()
    return {
        "id": "FEES",
        "cash": {
            "available": cny(row.cash_available_fen if row else 0),
            "locked": cny(row.cash_locked_fen if row else 0),
        },
    }


@router.get("/accounts", **responses.doc(responses.Accounts))
def list_accounts(caller: ProvinceOrOperator, conn: Conn, role: str | None = None) -> dict:
    a = models.Account.__table__
    query = select(a).order_by(a.c.id)
    if role:
        query = query.where(a.c.role == role)
    return {
        "items": [
            {
                "id": r.id,
                "name": r.name,
                "role": r.role,
                "city_code": r.city_code,
                "cash": {"available": cny(r.cash_available_fen), "locked": cny(r.cash_locked_fen)},
            }
            for r in conn.execute(query)
        ]
    }


async def _cash_move(
    kind: type[commands.Deposit | commands.Withdraw],
    account_id: str,
    body: AmountIn,
    request: Request,
) -> dict:
    a = models.Account.__table__
    row = await read(
        request, lambda conn: conn.execute(select(a.c.role).where(a.c.id == account_id)).first()
    )
    if row is None:
        raise ApiError("not_found", f"no account {account_id}")
    await submit(request, kind(account_id=account_id, amount_fen=body.amount))
    return await read(request, account_view, account_id)


@router.post(
    "/accounts/{account_id}/deposits", status_code=201, **responses.doc(responses.Account, 201)
)
async def deposit(account_id: str, body: AmountIn, caller: Operator, request: Request) -> dict:
    return await _cash_move(commands.Deposit, account_id, body, request)


@router.post(
    "/accounts/{account_id}/withdrawals", status_code=201, **responses.doc(responses.Account, 201)
)
async def withdraw(account_id: str, body: AmountIn, caller: Operator, request: Request) -> dict:
    return await _cash_move(commands.Withdraw, account_id, body, request)
