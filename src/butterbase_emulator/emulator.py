"""The emulator as one object: configuration, state, listeners, lifecycle."""

from __future__ import annotations

import shutil
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .admin import FaultTable, RequestLog
from .builds import BuildManager, BuildSettings
from .pipeline import Deployer
from .server import Listener
from .sites import SiteManager
from .storage import ObjectStore, Presigner, new_secret
from .store import Store

DEV_API_KEY = "bb_sk_0123456789abcdef0123456789abcdef01234567"


@dataclass
class Config:
    host: str = "127.0.0.1"
    port: int = 4000
    api_key: str = DEV_API_KEY
    apps: tuple[str, ...] = ("app_demo",)
    state_dir: Path = field(default_factory=lambda: Path(".butterbase-emulator"))
    admin: bool = False
    quirks: bool = False
    storage_port: int | None = None  # None: the previous run's port if free, else any
    upload_ttl_prebuilt: int = 900
    upload_ttl_source: int = 600
    build_timeout: float = 1200.0
    runtime: str = "auto"
    live_log_retention: float = 60.0
    log_flush_interval: float = 2.0


class Emulator:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.stopping = threading.Event()
        state = config.state_dir
        state.mkdir(parents=True, exist_ok=True)
        self.store = Store(state / "state.sqlite3")
        self.objects = ObjectStore(state / "objects")
        self.faults = FaultTable()
        self.request_log = RequestLog()
        self.url_host = "127.0.0.1" if config.host in ("", "0.0.0.0", "::") else config.host
        secret = self.store.meta("presign_secret")
        if secret is None:
            secret = new_secret()
            self.store.set_meta("presign_secret", secret)
        self._secret = bytes.fromhex(secret)
        self.sites = SiteManager(self.store, state / "sites", self.url_host, config.runtime, state / "logs")
        self.deployer = Deployer(self.store, self.objects, self.sites, state / "tmp", self.storage_endpoint,
                                 self.stopping)
        self.builds = BuildManager(
            self.store, self.objects, self.deployer, state / "builds",
            BuildSettings(config.quirks, config.build_timeout, config.live_log_retention,
                          config.log_flush_interval),
            self.stopping,
        )
        self.listeners: list[Listener] = []
        self._presigner: Presigner | None = None
        self.api: Listener | None = None
        self.storage: Listener | None = None

    # --- addresses -----------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        assert self.api is not None
        return f"http://{self.url_host}:{self.api.port}"

    def storage_endpoint(self) -> str:
        assert self.storage is not None
        return f"http://{self.url_host}:{self.storage.port}"

    def presigner(self) -> Presigner:
        assert self._presigner is not None
        return self._presigner

    # --- lifecycle ---------------------------------------------------------------------------

    def _bind(self, name: str, port: int, fallback_any: bool, app_id: str | None = None) -> Listener:
        try:
            listener = Listener((self.config.host, port), name, self, app_id)
        except OSError:
            if not fallback_any or port == 0:
                raise
            listener = Listener((self.config.host, 0), name, self, app_id)
        self.listeners.append(listener)
        return listener

    def start(self) -> None:
        shutil.rmtree(self.config.state_dir / "tmp", ignore_errors=True)
        shutil.rmtree(self.config.state_dir / "builds", ignore_errors=True)
        self.api = self._bind("api", self.config.port, fallback_any=False)
        if self.config.storage_port is None:
            remembered = self.store.meta("storage_port")
            self.storage = self._bind("storage", int(remembered) if remembered else 0, fallback_any=True)
        else:
            self.storage = self._bind("storage", self.config.storage_port, fallback_any=False)
        self.store.set_meta("storage_port", str(self.storage.port))
        self._presigner = Presigner(self._secret, f"{self.url_host}:{self.storage.port}")
        for app_id in self.config.apps:
            row = self.store.ensure_app(app_id)
            site = self._bind("site", row["site_port"] or 0, fallback_any=True, app_id=app_id)
            if site.port != row["site_port"]:
                self.store.set_site_port(app_id, site.port)
            self.sites.ports[app_id] = site.port
        for listener in self.listeners:
            listener.serve_in_thread()
        self.sites.resume(list(self.config.apps))

    def stop(self) -> None:
        self.stopping.set()
        self.builds.kill_all()
        closers = [threading.Thread(target=listener.shutdown) for listener in self.listeners]
        for closer in closers:
            closer.start()
        for closer in closers:
            closer.join()
        for listener in self.listeners:
            listener.server_close()
        self.sites.close()
        self.deployer.join(timeout=5.0)
        self.builds.kill_all()
        try:
            self.store.close()
        except Exception as exc:  # closing must never turn a clean stop into a crash
            print(f"[emulator] closing the database failed: {exc!r}", file=sys.stderr)

    # --- admin views --------------------------------------------------------------------------

    def admin_row(self, dep_id: str) -> dict[str, Any] | None:
        row = self.store.deployment(dep_id)
        if row is None:
            return None
        row["status_history"] = self.store.status_events(dep_id)
        job = self.store.newest_job(dep_id)
        row["build_job"] = job
        if job is not None:
            handle = self.builds.handle(job["id"])
            row["build_log_live"] = handle is not None
        return row
