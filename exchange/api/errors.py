"""Error codes to HTTP status, and the one error body every refusal uses:
`{"error": {"code": ..., "message": ...}}`."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

NOT_FOUND = frozenset(
    {
        "not_found",
        "order_not_found",
        "unknown_order",
        "unknown_account",
        "unknown_claim",
        "unknown_project",
        "unknown_application",
        "unknown_instrument",
        "not_your_city",
        "alert_not_found",
        "auction_not_found",
        "bid_not_found",
        "block_trade_not_found",
    }
)
CONFLICT = frozenset(
    {
        "insufficient_cash",
        "insufficient_allowances",
        "market_halted",
        "price_outside_band",
        "order_not_open",
        "not_order_owner",
        "already_verified",
        "already_decided",
        "duplicate_client_order_id",
        "duplicate_order_id",
        "username_taken",
        "instrument_exists",
        "below_city_floor",
        "exceeds_project_requirement",
        "instrument_expired",
        "auction_closed",
        "bid_below_reserve",
        "block_trade_not_pending",
        "no_change",
        "duplicate_id",
        "month_not_ended",
        "already_submitted",
        "nothing_to_correct",
        "already_acknowledged",
        "post_only_would_cross",
        "balance_limit",
    }
)
FORBIDDEN = frozenset({"forbidden", "not_allowed", "not_your_block_trade"})
UNAVAILABLE = frozenset({"unavailable", "timeout"})


def status_for(code: str) -> int:
    if code in NOT_FOUND:
        return 404
    if code in CONFLICT:
        return 409
    if code in FORBIDDEN:
        return 403
    if code in UNAVAILABLE:
        return 503
    if code in ("unauthorized", "token_expired"):
        return 401
    if code == "internal_error":
        return 500
    return 422


class ApiError(Exception):
    def __init__(
        self,
        code: str,
        message: str,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or status_for(code)
        self.headers = headers


def error_body(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
        headers.update(exc.headers or {})
        return JSONResponse(error_body(exc.code, exc.message), exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        code = "invalid_input"
        ctx = first.get("ctx") or {}
        if isinstance(ctx.get("error"), ValueError) and getattr(ctx["error"], "code", None):
            code = ctx["error"].code
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = f"{where}: {first.get('msg', 'invalid input')}" if where else "invalid input"
        return JSONResponse(error_body(code, message), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {
            404: "not_found",
            405: "method_not_allowed",
            401: "unauthorized",
            413: "body_too_large",
        }.get(exc.status_code, "http_error")
        return JSONResponse(error_body(code, str(exc.detail)), exc.status_code)
