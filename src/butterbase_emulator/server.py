"""Listeners and request dispatch: API, storage and per-app site servers.

Every request goes through the same steps: admin short-cut (API listener only),
request-log entry, fault injection, then the listener's own handler. Anything a
handler raises becomes an answer (or, once streaming has begun, a cut connection);
nothing a client does can take a listener down.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

from . import errors
from .admin import handle_admin
from .api import classify_auth, handle_api_request
from .errors import ApiError
from .exchange import BadRequestBody, ClientGone, Exchange
from .storage import handle_storage_request

if TYPE_CHECKING:
    from .emulator import Emulator

LOGS_PATH_SUFFIX = "/logs"
REQUEST_TIMEOUT = 600.0  # an idle keep-alive connection is closed after this


class Listener(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], name: str, emu: Emulator, app_id: str | None = None) -> None:
        self.name = name
        self.emu = emu
        self.app_id = app_id
        super().__init__(address, _Handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def serve_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.2},
                                  name=f"listener-{self.name}", daemon=True)
        thread.start()
        return thread

    def handle_error(self, request: object, client_address: object) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError | ClientGone):
            return
        print(f"[emulator] {self.name} listener error:", file=sys.stderr)
        traceback.print_exc()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ButterbaseEmulator/0.1"
    sys_version = ""
    timeout = REQUEST_TIMEOUT
    server: Listener

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle plus the
        # client's delayed ACK adds ~40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: object) -> None:
        pass  # the admin request log is the record; stderr stays quiet

    def _dispatch(self) -> None:
        dispatch(self, self.server)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _dispatch


def _auth_of(ex: Exchange, emu: Emulator) -> tuple[str, ApiError | None]:
    return classify_auth(ex.header("Authorization"), emu.config.api_key)


def dispatch(handler: BaseHTTPRequestHandler, listener: Listener) -> None:
    emu = listener.emu
    try:
        ex = Exchange(handler, listener.name)
    except BadRequestBody as exc:
        handler.close_connection = True
        body = str(exc).encode()
        try:
            handler.send_response(400)
            handler.send_header("Content-Type", "text/plain")
            handler.send_header("Content-Length", str(len(body)))
            handler.send_header("Connection", "close")
            handler.end_headers()
            handler.wfile.write(body)
        except OSError:
            pass
        return
    if listener.name == "api" and emu.config.admin and ex.path.startswith("/_admin/"):
        with contextlib.suppress(ClientGone):
            handle_admin(ex, emu)
        return
    auth, auth_error = _auth_of(ex, emu)
    entry = emu.request_log.begin(ex, auth)
    ex.on_body_progress = lambda n: emu.request_log.progress(entry, n)
    try:
        if _apply_fault(ex, emu):
            return
        _serve(ex, listener, auth, auth_error)
    except ClientGone:
        ex.abort()
    except Exception as exc:
        print(f"[emulator] {listener.name} {ex.method} {ex.path} failed:", file=sys.stderr)
        traceback.print_exc()
        if ex.headers_sent:
            ex.abort()
        else:
            try:
                ex.drain()
                if listener.name == "api":
                    err = errors.internal_error(type(exc).__name__, str(exc))
                    ex.send_json(err.status, err.body())
                else:
                    ex.send(500, b"internal error", "text/plain")
            except ClientGone:
                ex.abort()
    finally:
        emu.request_log.finish(entry, ex)


def _serve(ex: Exchange, listener: Listener, auth: str, auth_error: ApiError | None) -> None:
    emu = listener.emu
    if listener.name == "storage":
        handle_storage_request(ex, emu.presigner(), emu.objects)
        return
    if listener.name == "site":
        assert listener.app_id is not None
        emu.sites.serve(ex, listener.app_id)
        return
    try:
        handle_api_request(ex, emu, auth, auth_error)
    except ApiError as err:
        if ex.headers_sent:
            raise
        ex.drain()
        ex.send_json(err.status, err.body(), err.headers)


def _sleep(seconds: float, stop: Callable[[], bool]) -> None:
    end = time.monotonic() + seconds
    while not stop() and (left := end - time.monotonic()) > 0:
        time.sleep(min(left, 0.1))


def _apply_fault(ex: Exchange, emu: Emulator) -> bool:
    """Apply the first matching fault; True when the request has been fully dealt with."""
    fault = emu.faults.take(ex.server_name, ex.method, ex.path)
    if fault is None:
        return False
    ex.fault = fault
    if fault.delay:
        _sleep(fault.delay, emu.stopping.is_set)
    if fault.action == "respond":
        if fault.status is None:
            return False  # only a delay: let the real handler answer
        ex.drain()
        body = (fault.body or "").encode()
        ex.send(fault.status, body, fault.content_type or ("application/json" if body else None), fault.headers)
        return True
    if fault.action == "drop":
        if ex.has_body:
            half = (ex.content_length or 128 * 1024) // 2
            with contextlib.suppress(ClientGone, BadRequestBody):
                ex.read_partial(max(1, half))
        ex.abort()
        return True
    if fault.action == "throttle":
        ex.throttle_bps = fault.throttle_bps
        return False
    if fault.action == "hang" and not ex.path.endswith(LOGS_PATH_SUFFIX):
        ex.drain()
        ex.wait_for_disconnect(emu.stopping.is_set)
        return True
    return False  # sse_drop, and hang on a log stream, act inside the SSE writer
