"""The deploy pipeline shared by both flows (``runEdgeSsrPipeline`` + ``deployArtifact``).

Order and writes follow the server (contract §4.1): download (missing object →
ERROR with R2's wording) → unpack and validate (→ ERROR) → BUILDING with no status
guard → "push" (the app's site switches to the new output, even if the row was
canceled meanwhile) → READY plus supersede in one transaction unless CANCELED.
"""

from __future__ import annotations

import shutil
import sys
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .prebuilt import DeployError, unpack_artifact
from .storage import BUCKET, ObjectStore
from .store import Store

if TYPE_CHECKING:
    from .sites import SiteManager


class Deployer:
    def __init__(
        self, store: Store, objects: ObjectStore, sites: SiteManager, work_root: Path,
        storage_endpoint: Callable[[], str], stopping: threading.Event,
    ) -> None:
        self.store = store
        self.objects = objects
        self.sites = sites
        self.work_root = work_root
        self.storage_endpoint = storage_endpoint
        self.stopping = stopping
        self._released = threading.Event()
        self._released.set()
        self._hold_stage = "BUILDING"
        self._app_locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._threads: set[threading.Thread] = set()

    def set_hold(self, hold: bool, stage: str = "BUILDING") -> None:
        """Pause pipelines when they reach ``stage`` (UPLOADING or BUILDING) until released."""
        if hold:
            self._hold_stage = stage
            self._released.clear()
        else:
            self._released.set()

    def _pause_at(self, stage: str) -> None:
        while not self._released.is_set() and self._hold_stage == stage:
            if self.stopping.is_set():
                raise DeployError("Emulator shutting down", "INTERNAL")
            self._released.wait(0.1)

    def _app_lock(self, app_id: str) -> threading.Lock:
        with self._locks_guard:
            return self._app_locks.setdefault(app_id, threading.Lock())

    def spawn(self, target: Callable[[], None], name: str) -> None:
        def run() -> None:
            try:
                target()
            except Exception as exc:  # a pipeline bug must not kill the emulator
                print(f"[emulator] {name} crashed: {exc!r}", file=sys.stderr)
            finally:
                self._threads.discard(threading.current_thread())

        thread = threading.Thread(target=run, name=name, daemon=True)
        self._threads.add(thread)
        thread.start()

    def join(self, timeout: float) -> None:
        for thread in list(self._threads):
            thread.join(timeout)

    # --- prebuilt flow -------------------------------------------------------------

    def start_prebuilt(self, dep_id: str, r2_key: str | None) -> None:
        self.spawn(lambda: self._run_prebuilt(dep_id, r2_key), f"pipeline-{dep_id[:8]}")

    def _run_prebuilt(self, dep_id: str, r2_key: str | None) -> None:
        if not r2_key:
            # A from-source row started through the prebuilt route has no object key.
            self.store.set_status(dep_id, "ERROR", error="Invalid object key: must be a non-empty string")
            return
        self.work_root.mkdir(parents=True, exist_ok=True)
        local = self.work_root / f"download-{uuid.uuid4().hex}.zip"
        try:
            try:
                self._pause_at("UPLOADING")
            except DeployError:
                return
            try:
                source = self.objects.path(r2_key)
                shutil.copyfile(source, local)
            except (FileNotFoundError, ValueError):
                endpoint = self.storage_endpoint()
                self.store.set_status(
                    dep_id, "ERROR",
                    error=f"Object not found in R2: bucket={BUCKET} key={r2_key}. "
                    f"Verify S3_ENDPOINT ({endpoint}) matches S3_PUBLIC_ENDPOINT ({endpoint}).",
                )
                return
            try:
                self.deploy_artifact(dep_id, local)
            except DeployError:
                return
            self.objects.delete(r2_key)
        finally:
            local.unlink(missing_ok=True)

    # --- shared by both flows ---------------------------------------------------------

    def deploy_artifact(self, dep_id: str, zip_path: Path) -> None:
        """Deploy a validated zip; on failure the row is ERROR and DeployError is raised."""
        row = self.store.deployment(dep_id)
        if row is None:
            raise DeployError("Edge SSR deployment not found", "NOT_FOUND")
        app_id = row["app_id"]
        staging = self.sites.staging_dir(app_id, dep_id)
        try:
            summary = unpack_artifact(zip_path, staging)
            if summary.unsafe:
                print(f"[emulator] {dep_id}: skipped unsafe zip entries {summary.unsafe}", file=sys.stderr)
            self.store.set_status(dep_id, "BUILDING", keep_error=True)
            self._pause_at("BUILDING")
            with self._app_lock(app_id):
                self.sites.go_live(app_id, dep_id, staging)
                self.store.commit_ready_and_supersede(
                    app_id, dep_id, url=self.sites.url(app_id), file_count=summary.file_count,
                    total_size=summary.total_size_bytes, worker_size=summary.worker_script_size_bytes,
                    module_count=summary.worker_script_module_count,
                )
        except DeployError as exc:
            self.store.set_status(dep_id, "ERROR", error=str(exc))
            raise
        except Exception as exc:
            self.store.set_status(dep_id, "ERROR", error=str(exc) or exc.__class__.__name__)
            raise DeployError(str(exc), "INTERNAL") from exc
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
