"""Error codes to HTTP status (exchange.edge.api.error_codes), and the one error body
every refusal uses: `{"error": {"code": ..., "message": ...}}`."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from exchange.edge.api.error_codes import CODES, spec

log = logging.getLogger(__name__)


def status_for(code: str) -> int:
    if code not in CODES:
        log.error("error code %r is not in exchange.edge.api.error_codes", code)
    return spec(code).status


class ApiError(Exception):
    def __init__(
        self,
        code: str,
        message: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        message = message or spec(code).message
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
