"""Hostile transport: big bodies, trickling clients, over-long WebSocket URLs, malformed
auth frames; and the headers every response carries."""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import urlparse

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.e2e.conftest import REQUEST_TIMEOUT_S
from tests.e2e.helpers import API, Exchange, assert_error, recv_json

LIMIT = 64 * 1024
# the server cuts a trickling client off after REQUEST_TIMEOUT_S; allow for a loaded machine
CUT_OFF_WITHIN_S = REQUEST_TIMEOUT_S + 10


def _socket(exchange: Exchange) -> socket.socket:
    url = urlparse(exchange.base_url)
    sock = socket.create_connection((url.hostname, url.port), timeout=CUT_OFF_WITHIN_S)
    return sock


def _read_until_closed(sock: socket.socket) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and how long that took."""
    started, received = time.monotonic(), b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except TimeoutError:
        pytest.fail(f"the server kept the connection open {CUT_OFF_WITHIN_S} s: {received!r}")
    except ConnectionResetError:
        pass
    return received, time.monotonic() - started


def test_a_body_over_64_kib_is_413_without_being_read(exchange: Exchange):
    r = exchange.client.post(
        API + "/session",
        content=b'{"username": "' + b"a" * (LIMIT + 1) + b'", "password": "x"}',
        headers={"Content-Type": "application/json"},
    )
    assert_error(r, 413, "body_too_large")


def test_a_promised_body_over_64_kib_is_refused_on_its_length_alone(exchange: Exchange):
    # Content-Length says 50 MB and nothing follows: the answer comes at once
    with _socket(exchange) as sock:
        sock.sendall(
            b"POST /api/v1/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 50000000\r\n\r\n"
        )
        # the status line and the error body may come in separate segments
        head = b""
        while b"body_too_large" not in head and (chunk := sock.recv(4096)):
            head += chunk
    assert head.startswith(b"HTTP/1.1 413"), head
    assert b"body_too_large" in head


def test_a_chunked_body_over_64_kib_is_413(exchange: Exchange):
    def chunks():
        for _ in range(20):
            yield b" " * 8192

    r = exchange.client.post(
        API + "/session", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert_error(r, 413, "body_too_large")


def test_a_body_under_the_limit_is_read_as_usual(exchange: Exchange):
    body = {"username": "nobody-" + "x" * 90, "password": "y" * 150}
    r = exchange.client.post(API + "/session", json=body)
    assert_error(r, 401, "invalid_credentials")


def test_a_client_that_trickles_its_headers_is_cut_off(exchange: Exchange):
    with _socket(exchange) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        _, took = _read_until_closed(sock)
    assert took < CUT_OFF_WITHIN_S


def test_a_client_that_promises_a_body_and_never_sends_it_is_cut_off(exchange: Exchange):
    with _socket(exchange) as sock:
        sock.sendall(
            b"POST /api/v1/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n{"
        )
        _, took = _read_until_closed(sock)
    assert took < CUT_OFF_WITHIN_S


def test_a_websocket_url_over_8_kb_is_refused_at_once(exchange: Exchange):
    started = time.monotonic()
    with pytest.raises(InvalidStatus) as refused:
        exchange.ws("/ws/market?symbols=" + "A" * 9000)
    assert refused.value.response.status_code == 414
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    "frame",
    [
        json.dumps({"type": "auth", "token": 12345}),
        json.dumps({"type": "auth", "token": ["a", "b"]}),
        json.dumps({"type": "auth", "token": {"a": 1}}),
        json.dumps({"type": "auth", "token": None}),
        json.dumps([1, 2, 3]),
        "[" * 2000 + "]" * 2000,  # under the auth frame's size: parsed, too deep
        "[" * 30_000 + "]" * 30_000,
        '{"type": "auth", "token": ' + "[" * 3000 + "]" * 3000 + "}",
        "not json",
        b"\x00\x01binary",
    ],
    ids=[
        "number",
        "list",
        "object",
        "null",
        "array",
        "deep",
        "deeper",
        "deep-token",
        "text",
        "binary",
    ],
)
@pytest.mark.parametrize("path", ["/ws/private", "/ws/regulator"])
def test_a_malformed_auth_frame_closes_the_feed_with_4401(exchange: Exchange, path, frame):
    with exchange.ws(path) as ws:
        ws.send(frame)
        with pytest.raises(ConnectionClosed) as closed:
            recv_json(ws)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


def test_a_feed_message_over_64_kib_is_refused_as_too_big(exchange: Exchange):
    with exchange.ws("/ws/private") as ws:
        ws.send("x" * (LIMIT + 1))
        with pytest.raises(ConnectionClosed) as closed:
            recv_json(ws)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


def test_client_mistakes_leave_no_traceback_in_the_server_log(exchange: Exchange):
    # only what is logged meanwhile: the shared server's log has other tests' events
    start = exchange.log_path.stat().st_size
    frames = (json.dumps({"type": "auth", "token": 1}), b"\x00", "[" * 2000 + "]" * 2000)
    for frame in frames:
        with exchange.ws("/ws/private") as ws:
            ws.send(frame)
            with pytest.raises(ConnectionClosed):
                recv_json(ws)
    with _socket(exchange) as sock:  # a malformed request line
        sock.sendall(b"GET /\x00 HTTP/1.1\r\n\r\n")
        _read_until_closed(sock)
    with exchange.log_path.open("rb") as log:
        log.seek(start)
        written = log.read().decode(errors="replace")
    assert "Traceback" not in written, written[-4000:]


@pytest.mark.parametrize("path", ["/", "/market.html", "/api/v1/instruments", "/healthz", "/docs"])
def test_pages_and_api_carry_the_security_headers(exchange: Exchange, path):
    r = exchange.client.get(path)
    assert r.status_code == 200, r.text
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "no-referrer"
    policy = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    assert "default-src 'self'" in policy


@pytest.mark.parametrize("page", ["/", "/index.html", "/market.html", "/trade.html"])
def test_pages_run_no_inline_script(exchange: Exchange, page):
    r = exchange.client.get(page)
    policy = r.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "<script>" not in r.text and '<script type="module">' not in r.text


def test_the_api_docs_load_their_assets_from_this_server(exchange: Exchange):
    html = exchange.client.get("/docs").text
    assert "cdn" not in html.lower()
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        src = next(part for part in html.split('"') if part.endswith(asset))
        assert src.startswith("/"), src
        assert exchange.client.get(src).status_code == 200
