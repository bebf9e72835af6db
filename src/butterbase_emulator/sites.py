"""What a deployment's ``url`` answers: one "site" listener per app.

Each app has a stable port (kept in SQLite so a restart reuses it when free). The
listener serves the app's live deployment: through a Workers runtime process
(``runtime.py``, provided separately) when one is available, else as static files,
with a 501 page explaining how to get the runtime for everything that needs the worker.

"Live" follows the real service: the site switches when the pipeline pushes the
worker, just before READY, so a deployment canceled while BUILDING is still served.
"""

from __future__ import annotations

import contextlib
import http.client
import mimetypes
import shutil
import socket
import sys
import threading
from html import escape
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from .prebuilt import WORKER, DeployError
from .store import Store

if TYPE_CHECKING:
    from .exchange import Exchange

HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers",
    "transfer-encoding", "upgrade", "content-length",
}
PROXY_TIMEOUT = 120.0

RUNTIME_MISSING_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Workers runtime not installed</title></head>
<body>
<h1>501: this page needs the Workers runtime</h1>
<p>The Butterbase emulator is serving deployment <code>{dep}</code> of <code>{app}</code> as static files
only. <code>{path}</code> is not a static file, so it would be rendered by the deployment's
<code>_worker.js</code>, and no Workers runtime is available to run it.</p>
<p>Install the runtime with <code>make runtime</code> (it installs the <code>miniflare</code> npm package
into <code>.runtime/</code>; Node.js 20 or newer is needed), then restart the emulator
(without <code>--runtime off</code>).</p>
</body></html>
"""

NOTHING_LIVE_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>No deployment</title></head>
<body><h1>404: nothing is deployed to {app} yet</h1>
<p>Deploy with the API, then reload this page once the deployment is READY.</p></body></html>
"""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def load_runtime(mode: str) -> ModuleType | None:
    """The runtime module when it can serve workers, else None (static-only mode)."""
    if mode == "off":
        return None
    try:
        from . import runtime  # type: ignore[attr-defined]
    except ImportError:
        return None
    try:
        if not runtime.runtime_available():
            return None
    except Exception as exc:
        print(f"[emulator] runtime check failed: {exc!r}", file=sys.stderr)
        return None
    return runtime


class _Worker:
    def __init__(self, dep_id: str, process: Any, port: int) -> None:
        self.dep_id = dep_id
        self.process = process
        self.port = port


class SiteManager:
    def __init__(self, store: Store, root: Path, url_host: str, runtime_mode: str, logs_dir: Path) -> None:
        self.store = store
        self.root = root
        self.url_host = url_host
        self.runtime_mode = runtime_mode
        self.logs_dir = logs_dir
        self.ports: dict[str, int] = {}
        self._workers: dict[str, _Worker] = {}
        self._lock = threading.Lock()
        self._closed = False
        root.mkdir(parents=True, exist_ok=True)

    # --- layout -----------------------------------------------------------------------

    def url(self, app_id: str) -> str:
        return f"http://{self.url_host}:{self.ports[app_id]}"

    def staging_dir(self, app_id: str, dep_id: str) -> Path:
        return self.root / app_id / f".staging-{dep_id}"

    def deployment_dir(self, app_id: str, dep_id: str) -> Path:
        return self.root / app_id / dep_id

    def live(self, app_id: str) -> tuple[str, Path] | None:
        row = self.store.app(app_id)
        dep_id = row["live_deployment_id"] if row else None
        if not dep_id:
            return None
        folder = self.deployment_dir(app_id, dep_id)
        return (dep_id, folder) if folder.is_dir() else None

    # --- going live -----------------------------------------------------------------------

    def go_live(self, app_id: str, dep_id: str, staging: Path) -> None:
        """Make ``staging`` the app's served output (the WfP push of the real pipeline)."""
        target = self.deployment_dir(app_id, dep_id)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
        runtime = load_runtime(self.runtime_mode)
        if runtime is not None:
            self._start_worker(runtime, app_id, dep_id, target)
        previous = self.live(app_id)
        self.store.set_live_deployment(app_id, dep_id)
        if previous and previous[0] != dep_id:
            # Older outputs are kept only until replaced: the live one plus this one.
            shutil.rmtree(previous[1], ignore_errors=True)

    def _start_worker(self, runtime: ModuleType, app_id: str, dep_id: str, folder: Path) -> None:
        port = free_port()
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        process = runtime.WorkerProcess(folder, port, self.logs_dir / f"runtime-{app_id}-{dep_id}.log")
        try:
            process.start()
        except Exception as exc:
            with contextlib.suppress(Exception):
                process.stop()
            raise DeployError(f"Workers runtime could not start the worker: {exc}", "WFP_DEPLOY_FAILED") from exc
        with self._lock:
            old = self._workers.get(app_id)
            self._workers[app_id] = _Worker(dep_id, process, port)
            closed = self._closed
        if old is not None:
            old.process.stop()
        if closed:
            process.stop()

    def resume(self, app_ids: list[str]) -> None:
        """After a restart, bring the live deployments' workers back (in the background)."""
        runtime = load_runtime(self.runtime_mode)
        if runtime is None:
            return
        for app_id in app_ids:
            live = self.live(app_id)
            if live is None:
                continue

            def start(app_id: str = app_id, live: tuple[str, Path] = live) -> None:
                try:
                    self._start_worker(runtime, app_id, live[0], live[1])
                except DeployError as exc:
                    print(f"[emulator] {app_id}: {exc}", file=sys.stderr)

            threading.Thread(target=start, name=f"resume-{app_id}", daemon=True).start()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers = list(self._workers.values())
            self._workers.clear()
        for worker in workers:
            try:
                worker.process.stop()
            except Exception as exc:
                print(f"[emulator] stopping a worker failed: {exc!r}", file=sys.stderr)

    # --- serving -------------------------------------------------------------------------------

    def serve(self, ex: Exchange, app_id: str) -> None:
        live = self.live(app_id)
        if live is None:
            ex.drain()
            ex.send(404, NOTHING_LIVE_PAGE.format(app=escape(app_id)).encode(), "text/html; charset=utf-8")
            return
        with self._lock:
            worker = self._workers.get(app_id)
        if worker is not None:
            # During a switch the previous worker may answer a moment longer, as an
            # edge location would, rather than the static fallback's 501.
            self._proxy(ex, worker.port)
            return
        self._serve_static(ex, app_id, live[0], live[1])

    def _serve_static(self, ex: Exchange, app_id: str, dep_id: str, folder: Path) -> None:
        ex.drain()
        found = self._static_file(folder, ex.path) if ex.method in ("GET", "HEAD") else None
        if found is None:
            page = RUNTIME_MISSING_PAGE.format(dep=escape(dep_id), app=escape(app_id), path=escape(ex.path))
            ex.send(501, page.encode(), "text/html; charset=utf-8")
            return
        ctype = mimetypes.guess_type(found.name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype in ("application/javascript", "application/json"):
            ctype += "; charset=utf-8"
        size = found.stat().st_size
        ex.start_sized(200, [("Content-Type", ctype)], size)
        if ex.method == "HEAD":
            return
        with open(found, "rb") as fh:
            while chunk := fh.read(64 * 1024):
                ex.write_raw(chunk)

    @staticmethod
    def _static_file(folder: Path, url_path: str) -> Path | None:
        rel = unquote(url_path).lstrip("/")
        if rel == WORKER or rel.startswith(f"{WORKER}/"):
            return None  # the worker is never a public asset
        candidates = [rel + "index.html"] if rel.endswith("/") or not rel else [rel, rel + ".html",
                                                                                 rel + "/index.html"]
        base = folder.resolve()
        for candidate in candidates:
            path = (folder / candidate).resolve()
            if path.is_relative_to(base) and path.is_file():
                return path
        return None

    def _proxy(self, ex: Exchange, port: int) -> None:
        headers = {k: v for k, v in ex.headers_dict().items() if k not in HOP_BY_HOP}
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=PROXY_TIMEOUT)
        try:
            target = ex.path + (f"?{ex.raw_query}" if ex.raw_query else "")
            if ex.chunked:
                conn.request(ex.method, target, body=ex.iter_body(), headers={**headers,
                             "Transfer-Encoding": "chunked"}, encode_chunked=True)
            elif ex.content_length:
                conn.request(ex.method, target, body=ex.iter_body(),
                             headers={**headers, "Content-Length": str(ex.content_length)})
            else:
                conn.request(ex.method, target, headers=headers)
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            ex.drain()
            if not ex.headers_sent:
                ex.send(502, f"Workers runtime did not answer: {exc}".encode(), "text/plain; charset=utf-8")
            return
        try:
            out = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP]
            length = resp.getheader("Content-Length")
            if length is not None and length.isdigit():
                ex.start_sized(resp.status, out, int(length))
                while chunk := resp.read1(64 * 1024):
                    ex.write_raw(chunk)
            else:
                ex.start_stream(resp.status, out)
                while chunk := resp.read1(64 * 1024):
                    ex.write_chunk(chunk)
                ex.end_stream()
        finally:
            conn.close()
