"""The HTTP connection as uvicorn parses it, with the limits uvicorn leaves out.

uvicorn waits for ever for a request whose headers or body trickle in, and hands a
WebSocket upgrade with an over-long request line to the websockets parser, which then
never answers. This protocol (uvicorn's own httptools protocol, plus three checks):

- a request must arrive whole, headers and body, within `read_timeout_s` of its first
  byte (or of the connection opening): else the connection is closed;
- a request target over `MAX_URL_BYTES` is `414` and a header line over
  `MAX_HEADER_BYTES` is `431`, both before the application or a WebSocket sees them.
"""

from __future__ import annotations

import asyncio
import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# websockets refuses request lines and header lines over 8192 bytes by stalling the
# handshake; staying under that (with room for "GET " and " HTTP/1.1") refuses them here
MAX_URL_BYTES = 8000
MAX_HEADER_BYTES = 8000
DEFAULT_READ_TIMEOUT_S = 10.0


def _response(status: int, reason: str, code: str, message: str) -> bytes:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class _Refused(Exception):
    """Raised from a parser callback: httptools stops and reports a parser error."""


def guarded_protocol(read_timeout_s: float = DEFAULT_READ_TIMEOUT_S) -> type[HttpToolsProtocol]:
    """The protocol class to give `uvicorn.run(http=...)`."""

    class GuardedHttpProtocol(HttpToolsProtocol):
        _read_deadline: asyncio.TimerHandle | None = None
        _refusal: bytes | None = None

        def connection_made(self, transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            if self._read_deadline is None:
                self._arm()

        def on_url(self, url: bytes) -> None:
            super().on_url(url)
            if len(self.url) > MAX_URL_BYTES:
                self._refuse(414, "URI Too Long", "url_too_long", f"over {MAX_URL_BYTES} bytes")

        def on_header(self, name: bytes, value: bytes) -> None:
            if len(name) + len(value) > MAX_HEADER_BYTES:
                self._refuse(
                    431,
                    "Request Header Fields Too Large",
                    "header_too_large",
                    f"a header line over {MAX_HEADER_BYTES} bytes",
                )
            super().on_header(name, value)

        def on_message_complete(self) -> None:
            self._disarm()
            super().on_message_complete()

        def handle_websocket_upgrade(self) -> None:
            # from here on the WebSocket protocol owns the connection and its timeouts
            self._disarm()
            super().handle_websocket_upgrade()

        def send_400_response(self, msg: str) -> None:
            # a parser error: ours (a refusal raised from a callback) or a malformed request
            if self._refusal is None:
                super().send_400_response(msg)
                return
            self._disarm()
            if not self.transport.is_closing():
                self.transport.write(self._refusal)
                self.transport.close()

        def _refuse(self, status: int, reason: str, code: str, message: str) -> None:
            self._refusal = _response(status, reason, code, message)
            raise _Refused(code)

        def _arm(self) -> None:
            self._disarm()
            self._read_deadline = self.loop.call_later(read_timeout_s, self._too_slow)

        def _disarm(self) -> None:
            if self._read_deadline is not None:
                self._read_deadline.cancel()
                self._read_deadline = None

        def _too_slow(self) -> None:
            self._read_deadline = None
            if not self.transport.is_closing():
                self.transport.close()

    return GuardedHttpProtocol
