"""A tiny test-side client of the emulated API (deliberately not the project's client)."""

from __future__ import annotations

import io
import time
import zipfile
from typing import Any

import requests
from emulator_harness import Emulator

TERMINAL = ("READY", "ERROR", "CANCELED", "SUPERSEDED")
WORKER_JS = b"export default { async fetch() { return new Response('hello from the worker'); } };\n"


def make_zip(files: dict[str, bytes | str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def site_zip(**extra: bytes | str) -> bytes:
    """A valid prebuilt output: single-file worker plus one static page."""
    return make_zip({"_worker.js": WORKER_JS, "index.html": "<h1>static hello</h1>", **extra})


class Api:
    def __init__(self, emu: Emulator, app: str | None = None) -> None:
        self.emu = emu
        self.app = app or emu.apps[0]
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {emu.api_key}"

    def url(self, *parts: str, app: str | None = None) -> str:
        tail = "/".join(parts)
        return f"{self.emu.url}/v1/{app or self.app}/edge-ssr/deployments" + (f"/{tail}" if tail else "")

    def create(self, body: Any = None, app: str | None = None) -> requests.Response:
        return self.session.post(self.url(app=app), json={} if body is None else body, timeout=30)

    def create_ok(self, app: str | None = None) -> dict[str, Any]:
        resp = self.create(app=app)
        assert resp.status_code == 200, resp.text
        return dict(resp.json())

    def upload(self, upload_url: str, data: bytes) -> requests.Response:
        # A fresh request without the API key: the URL is for object storage.
        return requests.put(upload_url, data=data, headers={"Content-Type": "application/zip"}, timeout=60)

    def start(self, dep_id: str, app: str | None = None) -> requests.Response:
        return self.session.post(self.url(dep_id, "start", app=app), json={}, timeout=30)

    def get(self, dep_id: str, app: str | None = None) -> requests.Response:
        return self.session.get(self.url(dep_id, app=app), timeout=30)

    def status(self, dep_id: str, app: str | None = None) -> dict[str, Any]:
        resp = self.get(dep_id, app=app)
        assert resp.status_code == 200, resp.text
        return dict(resp.json())

    def wait(self, dep_id: str, statuses: tuple[str, ...] = TERMINAL, timeout: float = 20.0,
             app: str | None = None) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            row = self.status(dep_id, app=app)
            if row["status"] in statuses:
                return row
            if time.monotonic() > deadline:
                raise AssertionError(f"{dep_id} still {row['status']} after {timeout}s: {row}")
            time.sleep(0.05)

    def held_at_building(self, data: bytes | None = None) -> str:
        """Hold the pipeline, then create, upload and start: the deployment waits in BUILDING."""
        self.emu.hold_pipeline(True)
        created = self.create_ok()
        self.upload(created["uploadUrl"], site_zip() if data is None else data)
        self.start(created["id"])
        self.wait(created["id"], ("BUILDING",))
        return str(created["id"])

    def deploy(self, data: bytes | None = None, app: str | None = None) -> dict[str, Any]:
        """create → PUT → start → wait for a terminal status."""
        created = self.create_ok(app=app)
        assert self.upload(created["uploadUrl"], site_zip() if data is None else data).status_code == 200
        assert self.start(created["id"], app=app).status_code == 200
        return self.wait(created["id"], app=app)

    def create_source(self, body: Any = None, app: str | None = None) -> requests.Response:
        return self.session.post(self.url("from-source", app=app), json={} if body is None else body, timeout=30)

    def start_source(self, dep_id: str, body: Any, app: str | None = None) -> requests.Response:
        return self.session.post(self.url("from-source", dep_id, "start", app=app), json=body, timeout=30)

    def logs(self, dep_id: str, app: str | None = None, offset: int | str | None = None,
             timeout: float = 120.0) -> requests.Response:
        params = {"offset": str(offset)} if offset is not None else None
        return self.session.get(self.url("from-source", dep_id, "logs", app=app), params=params,
                                headers={"Accept": "text/event-stream"}, stream=True, timeout=timeout)


def parse_sse(raw: str) -> list[tuple[str, str]]:
    """(event, data) pairs; event is 'message' for unnamed frames."""
    events: list[tuple[str, str]] = []
    for block in raw.split("\n\n"):
        if not block:
            continue
        event, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event: "):
                event = line[len("event: "):]
            elif line.startswith("data: "):
                data.append(line[len("data: "):])
            elif line == "data:":
                data.append("")
        events.append((event, "\n".join(data)))
    return events


def log_text(events: list[tuple[str, str]]) -> str:
    """Rebuild the log as the contract says: concatenate, un-escape backslash-n."""
    return "".join(d for e, d in events if e == "message").replace("\\n", "\n")
