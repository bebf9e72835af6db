"""One HTTP request/response on a socket: body reading and answer writing.

Written on top of ``http.server`` so the emulator needs nothing outside the standard
library. Bodies are streamed (uploads can be 100 MB), chunked request bodies are
decoded, streamed answers use chunked transfer encoding (as Node does for a hijacked
reply), and every write failure becomes :class:`ClientGone` so a client that hangs up
never crashes a handler.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

READ_CHUNK = 64 * 1024
# Bodies we are going to refuse are still read (up to this much) so the client gets
# to see the answer instead of a reset while it is still sending.
DRAIN_CAP = 256 * 1024 * 1024


class ClientGone(Exception):
    """The peer closed the connection; nothing more can be read or written."""


class BadRequestBody(Exception):
    """The request framing is broken (bad Content-Length or chunk header)."""


@dataclass
class Exchange:
    handler: BaseHTTPRequestHandler
    server_name: str
    method: str = ""
    path: str = ""
    raw_query: str = ""
    query: list[tuple[str, str]] = field(default_factory=list)
    chunked: bool = False
    content_length: int | None = None
    body_read: int = 0
    body_done: bool = False
    status: int = 0
    headers_sent: bool = False
    aborted: bool = False
    throttle_bps: int | None = None
    on_body_progress: Callable[[int], None] | None = None
    fault: Any = None  # the admin fault applied to this request, if any
    _chunk_left: int = 0
    _chunked_eof: bool = False
    _streaming: bool = False

    def __post_init__(self) -> None:
        h = self.handler
        self.method = h.command
        split = urlsplit(h.path)
        self.path = split.path
        self.raw_query = split.query
        self.query = parse_qsl(split.query, keep_blank_values=True)
        self.chunked = "chunked" in (h.headers.get("Transfer-Encoding") or "").lower()
        length = h.headers.get("Content-Length")
        if length is not None and not self.chunked:
            try:
                self.content_length = int(length.strip())
            except ValueError:
                self.content_length = None
                self.body_done = True
                raise BadRequestBody("Content-Length is not a number") from None
            if self.content_length < 0:
                raise BadRequestBody("Content-Length is negative")
        self.body_done = not self.chunked and not self.content_length

    # --- request -------------------------------------------------------------

    def header(self, name: str) -> str | None:
        return self.handler.headers.get(name)

    def headers_dict(self) -> dict[str, str]:
        return {k.lower(): v for k, v in self.handler.headers.items()}

    def query_value(self, name: str) -> str | None:
        for key, value in self.query:
            if key == name:
                return value
        return None

    @property
    def has_body(self) -> bool:
        return self.chunked or bool(self.content_length)

    def _raw_read(self, n: int) -> bytes:
        try:
            data = self.handler.rfile.read(n)
        except (ConnectionError, TimeoutError, OSError) as exc:
            raise ClientGone(str(exc)) from exc
        return data

    def _read_some(self, max_bytes: int) -> bytes:
        """Next piece of the body (at most max_bytes); b'' at the end."""
        if self.body_done:
            return b""
        if not self.chunked:
            assert self.content_length is not None
            left = self.content_length - self.body_read
            data = self._raw_read(min(max_bytes, left))
            if not data:
                raise ClientGone("client closed the connection during the request body")
            self.body_read += len(data)
            if self.body_read >= self.content_length:
                self.body_done = True
            return data
        if self._chunk_left == 0:
            line = self.handler.rfile.readline(1024)
            if not line:
                raise ClientGone("client closed the connection during a chunked body")
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise BadRequestBody("bad chunk size line") from None
            if size == 0:
                while True:  # trailers, up to the blank line
                    trailer = self.handler.rfile.readline(8192)
                    if trailer in (b"\r\n", b"\n", b""):
                        break
                self.body_done = True
                return b""
            self._chunk_left = size
        data = self._raw_read(min(max_bytes, self._chunk_left))
        if not data:
            raise ClientGone("client closed the connection during a chunk")
        self._chunk_left -= len(data)
        self.body_read += len(data)
        if self._chunk_left == 0:
            self.handler.rfile.readline(16)  # the CRLF after each chunk
        return data

    def iter_body(self, chunk_size: int = READ_CHUNK) -> Iterator[bytes]:
        """Yield the body piece by piece, honouring a throttle fault."""
        started = time.monotonic()
        while not self.body_done:
            size = chunk_size
            if self.throttle_bps:
                size = max(1, min(chunk_size, self.throttle_bps // 4 or 1))
            data = self._read_some(size)
            if data:
                if self.on_body_progress:
                    self.on_body_progress(self.body_read)
                if self.throttle_bps:
                    due = started + self.body_read / self.throttle_bps
                    pause = due - time.monotonic()
                    if pause > 0:
                        time.sleep(pause)
                yield data

    def read_body(self, limit: int) -> bytes | None:
        """The whole body, or None when it is larger than ``limit`` (then it was drained)."""
        if self.content_length is not None and self.content_length > limit:
            self.drain()
            return None
        parts: list[bytes] = []
        total = 0
        for data in self.iter_body():
            total += len(data)
            if total > limit:
                self.drain()
                return None
            parts.append(data)
        return b"".join(parts)

    def read_partial(self, max_bytes: int) -> None:
        """Read and discard up to max_bytes of the body (used to drop mid-upload)."""
        while not self.body_done and self.body_read < max_bytes:
            self._read_some(min(READ_CHUNK, max_bytes - self.body_read))

    def drain(self, cap: int = DRAIN_CAP) -> None:
        """Discard the rest of the body so the answer can be read by the client."""
        try:
            for _ in self.iter_body():
                if self.body_read > cap:
                    break
        except (ClientGone, BadRequestBody):
            pass

    # --- response ------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        try:
            self.handler.wfile.write(data)
            self.handler.wfile.flush()
        except (ConnectionError, TimeoutError, OSError, ValueError) as exc:
            self.aborted = True
            self.handler.close_connection = True
            raise ClientGone(str(exc)) from exc

    def _start(self, status: int, headers: list[tuple[str, str]]) -> None:
        if self.headers_sent:
            raise RuntimeError("response already started")
        self.status = status
        self.headers_sent = True
        h = self.handler
        try:
            h.send_response(status)
            for name, value in headers:
                h.send_header(name, value)
            if not self.body_done:
                # An unread body would be parsed as the next request: close instead.
                h.close_connection = True
                h.send_header("Connection", "close")
            h.end_headers()
        except (ConnectionError, TimeoutError, OSError, ValueError) as exc:
            self.aborted = True
            h.close_connection = True
            raise ClientGone(str(exc)) from exc

    def send(
        self,
        status: int,
        body: bytes = b"",
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        out: list[tuple[str, str]] = []
        if content_type:
            out.append(("Content-Type", content_type))
        for name, value in (headers or {}).items():
            if name.lower() in ("content-length", "transfer-encoding", "connection"):
                continue
            out.append((name, value))
        out.append(("Content-Length", str(len(body))))
        self._start(status, out)
        if body and self.method != "HEAD":
            self._write(body)

    def send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self.send(status, json.dumps(obj).encode(), "application/json; charset=utf-8", headers)

    def start_sized(self, status: int, headers: list[tuple[str, str]], length: int) -> None:
        """Begin an answer of known length whose body follows through write_raw."""
        filtered = [(n, v) for n, v in headers if n.lower() not in ("content-length", "transfer-encoding")]
        self._start(status, [*filtered, ("Content-Length", str(length))])

    def write_raw(self, data: bytes) -> None:
        if data and self.method != "HEAD":
            self._write(data)

    def start_stream(self, status: int, headers: list[tuple[str, str]]) -> None:
        """Begin a chunked answer of unknown length (SSE, proxied bodies)."""
        filtered = [(n, v) for n, v in headers if n.lower() not in ("content-length", "transfer-encoding")]
        self._streaming = True
        self._start(status, [*filtered, ("Transfer-Encoding", "chunked")])

    def write_chunk(self, data: bytes) -> None:
        if not data:
            return
        self._write(b"%x\r\n%s\r\n" % (len(data), data))

    def end_stream(self) -> None:
        self._write(b"0\r\n\r\n")

    def abort(self) -> None:
        """Cut the connection with no (further) answer."""
        self.aborted = True
        self.handler.close_connection = True
        sock = self.handler.connection
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

    def wait_for_disconnect(self, stop: Callable[[], bool], poll: float = 0.2) -> None:
        """Block until the client hangs up (or ``stop()`` says the emulator is closing)."""
        sock = self.handler.connection
        while not stop():
            try:
                readable, _, _ = select.select([sock], [], [], poll)
            except (OSError, ValueError):
                return
            if readable:
                try:
                    data = sock.recv(4096, socket.MSG_PEEK)
                except OSError:
                    return
                if not data:
                    return
                # Pipelined bytes from the client: consume them, keep waiting.
                try:
                    sock.recv(4096)
                except OSError:
                    return
        self.abort()
