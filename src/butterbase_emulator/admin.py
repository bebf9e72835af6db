"""The test-only admin interface: request log, injected faults, state overrides.

Enabled with ``--admin`` and served under ``/_admin/`` on the API listener, to
loopback clients only. Admin requests are neither logged nor subject to faults.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .store import STATUSES

if TYPE_CHECKING:
    from .emulator import Emulator
    from .exchange import Exchange

ACTIONS = ("respond", "drop", "sse_drop", "throttle", "hang")
SERVERS = ("api", "storage", "site")
ADMIN_BODY_LIMIT = 1024 * 1024
REQUEST_LOG_CAP = 20000  # oldest entries are dropped beyond this
_SIGNATURE_QUERY = re.compile(r"(?i)((?:^|&)(?:x-amz-signature|signature)=)[^&]*")


class AdminInputError(Exception):
    pass


@dataclass
class Fault:
    id: int
    method: str | None
    path: re.Pattern[str]
    server: str | None
    times: int
    status: int | None
    body: str | None
    content_type: str | None
    headers: dict[str, str] | None
    delay: float | None
    action: str
    sse_drop_after: int
    throttle_bps: int | None
    used: int = 0

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id, "method": self.method, "path": self.path.pattern, "server": self.server,
            "times": self.times, "used": self.used, "status": self.status, "body": self.body,
            "content_type": self.content_type, "headers": self.headers, "delay": self.delay,
            "action": self.action, "sse_drop_after": self.sse_drop_after, "throttle_bps": self.throttle_bps,
        }


def _opt(spec: dict[str, Any], name: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
    value = spec.get(name, default)
    if value is None:
        return default
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        raise AdminInputError(f"{name} has the wrong type")
    return value


class FaultTable:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)

    def add(self, spec: Any) -> Fault:
        if not isinstance(spec, dict):
            raise AdminInputError("fault spec must be a JSON object")
        unknown = set(spec) - {
            "method", "path", "server", "times", "status", "body", "content_type", "headers", "delay",
            "action", "sse_drop_after", "throttle_bps",
        }
        if unknown:
            raise AdminInputError(f"unknown fault fields: {sorted(unknown)}")
        action = _opt(spec, "action", str, "respond")
        if action not in ACTIONS:
            raise AdminInputError(f"action must be one of {ACTIONS}")
        server = _opt(spec, "server", str)
        if server is not None and server not in SERVERS:
            raise AdminInputError(f"server must be one of {SERVERS} or null")
        try:
            path = re.compile(_opt(spec, "path", str, ""))
        except re.error as exc:
            raise AdminInputError(f"path is not a valid regex: {exc}") from exc
        method = _opt(spec, "method", str)
        headers = _opt(spec, "headers", dict)
        if headers is not None and not all(isinstance(v, str) for v in headers.values()):
            raise AdminInputError("headers values must be strings")
        times = _opt(spec, "times", int, 1)
        if times < 0:
            raise AdminInputError("times must be >= 0 (0 = unlimited)")
        throttle = _opt(spec, "throttle_bps", int)
        if action == "throttle" and (not throttle or throttle <= 0):
            raise AdminInputError("throttle needs throttle_bps > 0")
        status = _opt(spec, "status", int)
        if status is not None and not 100 <= status <= 599:
            raise AdminInputError("status must be an HTTP status code")
        delay = _opt(spec, "delay", (int, float))
        fault = Fault(
            id=next(self._ids), method=method.upper() if method else None, path=path, server=server,
            times=times, status=status, body=_opt(spec, "body", str),
            content_type=_opt(spec, "content_type", str), headers=headers,
            delay=float(delay) if delay is not None else None, action=action,
            sse_drop_after=_opt(spec, "sse_drop_after", int, 0), throttle_bps=throttle,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.describe() for f in self._faults]

    def take(self, server: str, method: str, path: str) -> Fault | None:
        """The first matching fault, counted as used (and removed when exhausted)."""
        with self._lock:
            for fault in self._faults:
                if fault.server not in (None, server):
                    continue
                if fault.method not in (None, method):
                    continue
                if not fault.path.search(path):
                    continue
                fault.used += 1
                if fault.times and fault.used >= fault.times:
                    self._faults.remove(fault)
                return fault
        return None


def redact_authorization(value: str) -> str:
    scheme, _, token = value.partition(" ")
    if not token:
        return "…REDACTED"
    prefix = token[:6] if len(token) >= 16 else ""
    return f"{scheme} {prefix}…REDACTED"


def redact_query(query: str) -> str:
    return _SIGNATURE_QUERY.sub(lambda m: m.group(1) + "REDACTED", query)


class RequestLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []
        self._seq = itertools.count(1)

    def begin(self, ex: Exchange, auth: str) -> dict[str, Any]:
        headers: dict[str, str] = {}
        for name, value in ex.headers_dict().items():
            if name == "authorization":
                value = redact_authorization(value)
            elif name == "x-amz-signature":
                value = "REDACTED"
            headers[name] = value
        entry: dict[str, Any] = {
            "seq": next(self._seq), "server": ex.server_name, "method": ex.method, "path": ex.path,
            "query": redact_query(ex.raw_query), "headers": headers, "auth": auth, "body_size": 0,
            "chunked": ex.chunked, "status": 0,
        }
        with self._lock:
            self._entries.append(entry)
            if len(self._entries) > REQUEST_LOG_CAP:
                del self._entries[: len(self._entries) - REQUEST_LOG_CAP]
        return entry

    def finish(self, entry: dict[str, Any], ex: Exchange) -> None:
        with self._lock:
            entry["body_size"] = ex.body_read
            entry["status"] = ex.status

    def progress(self, entry: dict[str, Any], body_size: int) -> None:
        with self._lock:
            entry["body_size"] = body_size

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return json.loads(json.dumps(self._entries))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_DEPLOYMENT_STATUS = re.compile(r"^/_admin/deployments/([^/]+)/status$")
_DEPLOYMENT = re.compile(r"^/_admin/deployments/([^/]+)$")


def _read_json(ex: Exchange) -> Any:
    raw = ex.read_body(ADMIN_BODY_LIMIT)
    if raw is None:
        raise AdminInputError("body too large")
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise AdminInputError(f"body is not JSON: {exc}") from exc


def handle_admin(ex: Exchange, emu: Emulator) -> None:
    """Route one ``/_admin/...`` request."""
    client = ex.handler.client_address[0]
    if client not in ("127.0.0.1", "::1") and not client.startswith("127."):
        ex.drain()
        ex.send_json(403, {"error": "admin interface is loopback only"})
        return
    try:
        _route_admin(ex, emu)
    except AdminInputError as exc:
        ex.drain()
        ex.send_json(400, {"error": str(exc)})


def _route_admin(ex: Exchange, emu: Emulator) -> None:
    path, method = ex.path, ex.method
    if path == "/_admin/requests" and method == "GET":
        ex.send_json(200, {"requests": emu.request_log.snapshot()})
    elif path == "/_admin/apps" and method == "GET":
        apps = []
        for app_id in emu.config.apps:
            row = emu.store.app(app_id) or {}
            apps.append({"app_id": app_id, "site_url": emu.sites.url(app_id),
                         "live_deployment_id": row.get("live_deployment_id")})
        ex.send_json(200, {"apps": apps, "storage_url": emu.storage_endpoint()})
    elif path == "/_admin/reset" and method == "POST":
        ex.drain()
        emu.faults.clear()
        emu.request_log.clear()
        ex.send_json(200, {"reset": True})
    elif path == "/_admin/faults" and method == "POST":
        fault = emu.faults.add(_read_json(ex))
        ex.send_json(200, {"id": fault.id})
    elif path == "/_admin/faults" and method == "GET":
        ex.send_json(200, {"faults": emu.faults.list()})
    elif path == "/_admin/faults" and method == "DELETE":
        ex.drain()
        emu.faults.clear()
        ex.send_json(200, {"cleared": True})
    elif path == "/_admin/pipeline" and method == "POST":
        body = _read_json(ex)
        hold = body.get("hold") if isinstance(body, dict) else None
        if not isinstance(hold, bool):
            raise AdminInputError("hold must be true or false")
        stage = body.get("stage") or "BUILDING"
        if stage not in ("UPLOADING", "BUILDING"):
            raise AdminInputError("stage must be UPLOADING or BUILDING")
        emu.deployer.set_hold(hold, stage)
        ex.send_json(200, {"hold": hold, "stage": stage})
    elif (m := _DEPLOYMENT_STATUS.match(path)) and method == "POST":
        body = _read_json(ex)
        if not isinstance(body, dict) or body.get("status") not in STATUSES:
            raise AdminInputError(f"status must be one of {STATUSES}")
        error = body.get("error")
        if error is not None and not isinstance(error, str):
            raise AdminInputError("error must be a string or null")
        if not emu.store.force_status(m.group(1), body["status"], error):
            ex.send_json(404, {"error": "no such deployment"})
            return
        ex.send_json(200, emu.admin_row(m.group(1)))
    elif (m := _DEPLOYMENT.match(path)) and method == "GET":
        row = emu.admin_row(m.group(1))
        if row is None:
            ex.send_json(404, {"error": "no such deployment"})
            return
        ex.send_json(200, row)
    else:
        ex.drain()
        ex.send_json(404, {"error": f"no admin route {method} {path}"})
