"""What every HTTP response carries and what no request may exceed, as one ASGI layer
around the whole application (pages, API and docs alike).

- A body over `MAX_BODY_BYTES` is `413 body_too_large`: refused on its Content-Length
  before a byte of it is read, and for a body without one (chunked) as soon as the
  bytes read pass the limit, so an unauthenticated client cannot make the server
  buffer megabytes.
- Security headers: a Content-Security-Policy that allows only this origin's scripts
  (the pages have no inline script), no framing, no MIME sniffing, no referrer.
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException

MAX_BODY_BYTES = 64 * 1024
TOO_LARGE_MESSAGE = "请求体超过 64 KiB (the request body is over 64 KiB)"

_PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# Swagger UI and ReDoc start from a small inline script FastAPI writes (no user data in
# it); their assets are served from this origin (fastapi-offline), never a CDN.
_DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
DOCS_PATHS = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})
_COMMON = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
# what EdgeGuards adds to every answer, after the answer's own headers
PAGE_HEADERS = (*_COMMON, (b"content-security-policy", _PAGE_POLICY.encode()))
DOCS_HEADERS = (*_COMMON, (b"content-security-policy", _DOCS_POLICY.encode()))


class _BodyTooLarge(HTTPException):
    """An HTTPException, so that FastAPI's body parsing passes it on as it is (any other
    error there becomes a 400) and the error handlers answer 413 body_too_large."""

    def __init__(self) -> None:
        super().__init__(413, TOO_LARGE_MESSAGE)


def _too_large_response() -> tuple[dict, dict]:
    body = json.dumps(
        {"error": {"code": "body_too_large", "message": TOO_LARGE_MESSAGE}}, ensure_ascii=False
    ).encode()
    start = {
        "type": "http.response.start",
        "status": 413,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ],
    }
    return start, {"type": "http.response.body", "body": body}


class EdgeGuards:
    def __init__(self, app, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = DOCS_HEADERS if scope.get("path") in DOCS_PATHS else PAGE_HEADERS
        started = False

        async def send_with_headers(message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        for name, value in scope.get("headers", ()):
            # (the HTTP parser has refused a malformed Content-Length already)
            if name == b"content-length" and value.isdigit() and int(value) > self.max_body_bytes:
                await self._refuse(send_with_headers)
                return
        seen = 0

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except _BodyTooLarge:
            if not started:
                await self._refuse(send_with_headers)

    @staticmethod
    async def _refuse(send) -> None:
        start, body = _too_large_response()
        await send(start)
        await send(body)
