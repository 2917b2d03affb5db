"""`POST /api/v1/orders` and `DELETE /api/v1/orders/{id}` below FastAPI: the same
answers, without the generic machinery.

A profile of the order path showed FastAPI's per-request work (dependency solving,
Request objects, the encoder, two middlewares wrapping `send`, route matching) at about
half of the event loop's time per order. This ASGI layer, in front of the project's
middlewares (inside Starlette's error middleware), answers the common order requests
itself with the routes' own parts (`authenticate`, `check_role`, `OrderIn`, `place_for`,
`cancel_for`, the app's exception handlers, the security headers of EdgeGuards,
`X-Emx-Seq`), in the order FastAPI runs them:

1. a place's body is read and parsed as JSON (before the token is looked at, as FastAPI
   does);
2. the token (401 unauthorized / token_expired, 429 rate_limited), then the role (403);
3. a place's body is validated (422 as `errors.install` renders RequestValidationError);
4. the order is placed (201, or 200 with the original for a repeat client_order_id) or
   cancelled (200).

Anything else goes to FastAPI unchanged, so its answer is the route's by construction:
other methods and paths, a query string, a NUL in the path; for a place a Content-Type
other than `application/json`, no Content-Length or one over the body limit, a body that
is not a JSON object; for a cancel any body at all. These fall through before the token
is charged to the rate limiter, so no request is counted twice. The FastAPI routes stay
registered for /openapi.json and /docs. tests/integration/test_fast_orders.py sends the
same requests to both paths.
"""

from __future__ import annotations

import json

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.requests import Request

from exchange.edge.api.deps import authenticate, check_role
from exchange.edge.api.guards import MAX_BODY_BYTES, PAGE_HEADERS
from exchange.edge.api.routes.orders import cancel_for, place_for
from exchange.edge.api.schemas import OrderIn
from settlement.accounts import Role

PATH = "/api/v1/orders"
ONE_ORDER = PATH + "/"
_ENTERPRISE = (Role.ENTERPRISE,)
_JSON = b"application/json"
# JSONResponse's rendering, so the bytes are those FastAPI sends
_render = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
).encode


class _Request:
    """What `place_for` and `submit` use of a request: the app, and a state that
    `submit` sets `emx_seq` on."""

    __slots__ = ("app", "state")

    def __init__(self, app) -> None:
        self.app = app
        self.state = _State()


class _State:
    __slots__ = ("emx_seq",)

    def __init__(self) -> None:
        self.emx_seq = None


class _Response:
    """`place_for` sets `status_code` to 200 on a repeat client_order_id."""

    __slots__ = ("status_code",)

    def __init__(self, status_code: int) -> None:
        self.status_code = status_code


def _replay(body: bytes, receive):
    """A `receive` that hands FastAPI the body already read, then the client's own."""
    given = False

    async def again():
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


def _handler_for(app, exc: Exception):
    # as Starlette's ExceptionMiddleware finds it: the nearest class in the MRO (a handler
    # of Exception itself belongs to the error middleware outside, which answers 500)
    for cls in type(exc).__mro__:
        if cls is Exception:
            return None
        handler = app.exception_handlers.get(cls)
        if handler is not None:
            return handler
    return None


class OrderFastPath:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and not scope["query_string"] and not scope.get("root_path"):
            method, path = scope["method"], scope["path"]
            if method == "POST" and path == PATH:
                await self._post(scope, receive, send)
                return
            if method == "DELETE" and path.startswith(ONE_ORDER):
                order_id = path[len(ONE_ORDER) :]
                if order_id and "/" not in order_id and "\x00" not in order_id:
                    await self._delete(scope, receive, send, order_id)
                    return
        await self.app(scope, receive, send)

    async def _post(self, scope, receive, send) -> None:
        content_type = length = authorization = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value if content_type is None else b""
            elif name == b"content-length":
                length = value
            elif name == b"authorization":
                if authorization is None:
                    authorization = value
            elif name == b"transfer-encoding":
                length = None
                break
        if (
            content_type != _JSON
            or length is None
            or not length.isdigit()
            or not 0 < int(length) <= MAX_BODY_BYTES
        ):
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client is gone: nobody to answer
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        try:
            data = json.loads(body)
        except Exception:  # FastAPI's 422 json_invalid, or 400 for a body that is not text
            data = None
        if type(data) is not dict:
            await self.app(scope, _replay(body, receive), send)
            return
        await self._place(scope, receive, send, data, authorization)

    async def _place(self, scope, receive, send, data: dict, authorization) -> None:
        async def place(caller, request, response):
            try:
                order = OrderIn.model_validate(data, from_attributes=True)
            except ValidationError as exc:
                errors = exc.errors(include_url=False)
                raise RequestValidationError(
                    [{**e, "loc": ("body", *e["loc"])} for e in errors]
                ) from None
            return await place_for(caller.account_id, order, request, response)

        await _answer(scope, receive, send, authorization, 201, place)

    async def _delete(self, scope, receive, send, order_id: str) -> None:
        authorization = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                if authorization is None:
                    authorization = value
            elif name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
                # a body: EdgeGuards' limit and FastAPI's handling of it, as they are
                await self.app(scope, receive, send)
                return

        async def cancel(caller, request, _response):
            return await cancel_for(caller.account_id, order_id, request)

        await _answer(scope, receive, send, authorization, 200, cancel)


async def _answer(scope, receive, send, authorization, status: int, run) -> None:
    """`run(caller, request, response)` for an enterprise caller, answered as FastAPI
    answers the route: its dict as JSON, an exception through the app's handlers."""
    app = scope["app"]
    request = _Request(app)
    response = _Response(status)
    try:
        caller = check_role(
            await authenticate(
                app, "" if authorization is None else authorization.decode("latin-1")
            ),
            _ENTERPRISE,
        )
        view = await run(caller, request, response)
    except Exception as exc:
        handler = _handler_for(app, exc)
        if handler is None:
            raise  # Starlette's error middleware answers 500, as for the route
        answer = await handler(Request(scope, receive), exc)
        await answer(scope, receive, _with_headers(send, request.state.emx_seq))
        return
    body = _render(view).encode()
    headers = [
        (b"content-length", str(len(body)).encode()),
        (b"content-type", _JSON),
        *PAGE_HEADERS,
    ]
    seq = request.state.emx_seq
    if seq is not None:
        headers.append((b"x-emx-seq", str(seq).encode()))
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _with_headers(send, seq):
    """EdgeGuards' security headers, then SeqHeader's `X-Emx-Seq`, after the answer's own."""

    async def sending(message) -> None:
        if message["type"] == "http.response.start":
            headers = [*message.get("headers", ()), *PAGE_HEADERS]
            if seq is not None:
                headers.append((b"x-emx-seq", str(seq).encode()))
            message = {**message, "headers": headers}
        await send(message)

    return sending
