"""Server-side ("from source") builds: the build driver and runner, on this machine.

Mirrors the real pipeline (contract §7): the runner downloads and unpacks the source,
restores the ``node_modules`` cache for (app, lockfile hash), always runs the install,
runs the build command, zips the output folder, stores the artifact and the cache, and
logs ``[runner] …`` lines; the driver then deploys the artifact with the same code as
the prebuilt flow and adds ``[driver] …`` lines to the in-memory log only.

Processes run in their own session so a timeout or shutdown can kill the whole group.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .buildlog import BuildHandle, RunnerLog, stream_live, stream_replay
from .exchange import Exchange
from .pipeline import Deployer
from .prebuilt import DeployError
from .storage import ObjectStore
from .store import Store, now_iso
from .validation import StartParams

SOURCE_MAX_BYTES = 50 * 1024 * 1024
ARTIFACT_MAX_BYTES = 25 * 1024 * 1024
INSTALL_ARGS = {
    "npm": ["install", "--no-audit", "--no-fund", "--include=dev"],
    "pnpm": ["install", "--frozen-lockfile=false", "--prod=false"],
    "yarn": ["install", "--production=false"],
}


@dataclass
class BuildSettings:
    quirks: bool
    build_timeout: float
    live_log_retention: float
    log_flush_interval: float


class RunnerFailure(Exception):
    def __init__(self, message: str, reason: str = "INTERNAL", exit_code: int = 1) -> None:
        super().__init__(message)
        self.reason = reason
        self.exit_code = exit_code


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return (info.external_attr >> 16) & 0o170000 == 0o120000


def extract_source(zip_path: Path, project: Path, note: Callable[[str], None]) -> None:
    """Unpack the project; entries that would escape it, and symlinks, are skipped."""
    base = project.resolve()
    try:
        zf = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile:
        raise RunnerFailure("Invalid or unsupported zip format. No END header found") from None
    with zf:
        for info in zf.infolist():
            if _is_symlink(info):
                note(f"[runner] skipped symlink entry {info.filename}\n")
                continue
            target = (project / info.filename).resolve()
            if not target.is_relative_to(base) or (target == base and not info.is_dir()):
                note(f"[runner] skipped entry outside the project: {info.filename}\n")
                continue
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1024 * 1024)


def zip_folder(folder: Path, out: Path) -> int:
    base = folder.resolve()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for root, dirs, files in os.walk(folder):
            dirs.sort()
            for name in sorted(files):
                path = Path(root) / name
                if not path.resolve().is_relative_to(base) or not path.is_file():
                    continue  # a link out of the output folder is not part of the output
                zf.write(path, path.relative_to(folder).as_posix())
    return out.stat().st_size


class BuildManager:
    def __init__(self, store: Store, objects: ObjectStore, deployer: Deployer, work_root: Path,
                 settings: BuildSettings, stopping: threading.Event) -> None:
        self.store = store
        self.objects = objects
        self.deployer = deployer
        self.work_root = work_root
        self.settings = settings
        self.stopping = stopping
        self._handles: dict[str, BuildHandle] = {}
        self._lock = threading.Lock()
        self._groups: set[int] = set()

    # --- API entry points ---------------------------------------------------------------

    def start(self, job_id: str, dep_id: str, app_id: str, params: StartParams) -> bool:
        with self._lock:
            if job_id in self._handles:
                return False
            if not self.store.claim_pending_job(job_id, params.lockfile_hash, app_id):
                return False
            handle = BuildHandle(job_id)
            self._handles[job_id] = handle
        self.deployer.spawn(lambda: self._drive(job_id, dep_id, app_id, params, handle), f"build-{dep_id[:8]}")
        return True

    def handle(self, job_id: str) -> BuildHandle | None:
        with self._lock:
            return self._handles.get(job_id)

    def stream_logs(self, ex: Exchange, job: dict[str, str]) -> None:
        # Quirk mode: the /logs request never reaches the process running the build (§0.3).
        handle = None if self.settings.quirks else self.handle(job["id"])
        if handle is not None:
            stream_live(ex, handle, self.stopping.is_set)
        else:
            stream_replay(ex, self.objects, job["log_r2_key"], ex.query_value("offset"), self.stopping.is_set)

    def kill_all(self) -> None:
        with self._lock:
            groups = list(self._groups)
        for pgid in groups:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)

    # --- driver (DRV.runBuild) --------------------------------------------------------------

    def _drive(self, job_id: str, dep_id: str, app_id: str, params: StartParams, handle: BuildHandle) -> None:
        exit_code, reason = 1, "INTERNAL"
        try:
            exit_code, reason = self._run(dep_id, app_id, params, handle)
        except Exception as exc:
            handle.push(f"[driver] error: {exc}\n".encode())
        finally:
            if exit_code == 0 and not reason:
                self._deploy(job_id, dep_id, handle)
            else:
                self.store.update_job(job_id, status="FAILED", completed_at=now_iso(), exit_code=exit_code,
                                      failure_reason=reason)
                if not self.settings.quirks:
                    # Quirk mode keeps the server's bug: this write goes to the wrong database (§0.2).
                    self.store.set_status(dep_id, "ERROR", error=reason or "Build failed")
            handle.finish()
            timer = threading.Timer(self.settings.live_log_retention, self._forget, (job_id,))
            timer.daemon = True
            timer.start()

    def _forget(self, job_id: str) -> None:
        with self._lock:
            self._handles.pop(job_id, None)

    def _deploy(self, job_id: str, dep_id: str, handle: BuildHandle) -> None:
        self.store.update_job(job_id, status="DEPLOYING")
        try:
            try:
                artifact = self.objects.path(f"artifact/{dep_id}.zip")
            except ValueError as exc:
                raise DeployError(str(exc), "INTERNAL") from exc
            if not artifact.exists():
                raise DeployError(f"The specified key does not exist. (artifact/{dep_id}.zip)", "NOT_FOUND")
            self.deployer.deploy_artifact(dep_id, artifact)
            self.store.update_job(job_id, status="READY", completed_at=now_iso(), exit_code=0)
        except DeployError as exc:
            self.store.update_job(job_id, status="FAILED", completed_at=now_iso(), exit_code=1,
                                  failure_reason="DEPLOY_FAILED")
            handle.push(f"[driver] deploy failed: {exc}\n".encode())

    # --- runner (entry.mjs runBuild) ----------------------------------------------------------

    def _run(self, dep_id: str, app_id: str, params: StartParams, handle: BuildHandle) -> tuple[int, str | None]:
        log = RunnerLog(self.objects, f"logs/{dep_id}.txt")

        def emit(chunk: bytes) -> None:
            log.append(chunk)
            handle.push(chunk)

        def note(line: str) -> None:
            emit(line.encode())

        flushing = threading.Event()

        def flusher() -> None:
            while not flushing.wait(self.settings.log_flush_interval):
                with contextlib.suppress(OSError):
                    log.flush()

        threading.Thread(target=flusher, name=f"logflush-{dep_id[:8]}", daemon=True).start()
        work = self.work_root / dep_id
        shutil.rmtree(work, ignore_errors=True)
        project = work / "project"
        project.mkdir(parents=True)
        deadline = time.monotonic() + self.settings.build_timeout
        exit_code, reason = 0, None
        try:
            self._steps(dep_id, app_id, params, work, project, emit, note, deadline)
            note("[runner] success\n")
        except RunnerFailure as failure:
            reason = failure.reason
            exit_code = failure.exit_code or 1
            note(f"[runner] FAILED: {failure}\n")
        except Exception as exc:
            reason, exit_code = "INTERNAL", 1
            note(f"[runner] FAILED: {exc}\n")
        finally:
            flushing.set()
            try:
                log.flush()
                self.objects.put_bytes(f"logs/{dep_id}.status.json",
                                       json.dumps({"exit_code": exit_code, "failure_reason": reason}).encode())
            finally:
                shutil.rmtree(work, ignore_errors=True)
        return exit_code, reason

    def _steps(self, dep_id: str, app_id: str, params: StartParams, work: Path, project: Path,
               emit: Callable[[bytes], None], note: Callable[[str], None], deadline: float) -> None:
        source_key = f"source/{dep_id}.zip"
        note(f"[runner] downloading source {source_key}\n")
        size = self.objects.head(source_key)
        if size is None:
            raise RunnerFailure(f"source {source_key} not found in R2")
        if size > SOURCE_MAX_BYTES:
            raise RunnerFailure(f"source {size} > {SOURCE_MAX_BYTES}", "SOURCE_TOO_LARGE")
        source_zip = work / "source.zip"
        shutil.copyfile(self.objects.path(source_key), source_zip)
        extract_source(source_zip, project, note)

        cache_key = f"cache/{app_id}/{params.lockfile_hash}.tar"
        if self.objects.head(cache_key) is not None:
            note(f"[runner] restoring node_modules cache ({params.lockfile_hash})\n")
            modules = project / "node_modules"
            modules.mkdir(parents=True, exist_ok=True)
            # GNU tar: many times faster than tarfile on a 700 MB node_modules; it refuses
            # absolute and '..' member names by itself, and the archive is one we wrote.
            subprocess.run(["tar", "-C", str(modules), "--no-same-owner", "-xf", str(self.objects.path(cache_key))],
                           check=True, capture_output=True)

        # Each real build runs in a fresh container: no package-manager cache survives between builds,
        # so only the node_modules cache above saves downloads (as on Butterbase).
        fresh = work / "pm-cache"
        env = {**os.environ, "NODE_ENV": "production", "npm_config_cache": str(fresh / "npm"),
               "YARN_CACHE_FOLDER": str(fresh / "yarn"), "npm_config_store_dir": str(fresh / "pnpm"),
               **params.user_env}
        pm = params.package_manager
        note(f"[runner] {pm} {' '.join(INSTALL_ARGS[pm])}\n")
        code = self._exec([pm, *INSTALL_ARGS[pm]], project, env, emit, deadline)
        if code != 0:
            raise RunnerFailure("install failed", "BUILD_NONZERO_EXIT", code)

        note(f"[runner] running build: {params.build_command}\n")
        code = self._exec(["sh", "-c", params.build_command], project, env, emit, deadline)
        if code != 0:
            raise RunnerFailure("build failed", "BUILD_NONZERO_EXIT", code)

        output = (project / params.output_dir).resolve()
        # The server resolves outputDir with no traversal check; here it must stay in
        # the project, or a path like "/" would zip this machine's file system.
        if not output.is_relative_to(project.resolve()) or not output.is_dir():
            raise RunnerFailure(f"output dir {params.output_dir} missing", "OUTPUT_NOT_FOUND")
        artifact = work / "artifact.zip"
        artifact_size = zip_folder(output, artifact)
        if artifact_size > ARTIFACT_MAX_BYTES:
            raise RunnerFailure(f"artifact {artifact_size} > {ARTIFACT_MAX_BYTES}", "ARTIFACT_TOO_LARGE")
        note(f"[runner] uploading artifact ({artifact_size} bytes)\n")
        self.objects.commit(artifact, f"artifact/{dep_id}.zip")

        try:
            modules = project / "node_modules"
            if modules.is_dir():
                cache_tar = work / "cache-out.tar"
                subprocess.run(["tar", "-C", str(modules), "-cf", str(cache_tar), "."], check=True,
                               capture_output=True)
                self.objects.commit(cache_tar, cache_key)
        except Exception as exc:
            note(f"[runner] cache update failed (non-fatal): {exc}\n")

    def _exec(self, argv: list[str], cwd: Path, env: dict[str, str], emit: Callable[[bytes], None],
              deadline: float) -> int:
        try:
            proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        except FileNotFoundError:
            raise RunnerFailure(f"spawn {argv[0]} ENOENT") from None
        except OSError as exc:
            raise RunnerFailure(f"spawn {argv[0]} {exc.strerror}") from None
        with self._lock:
            self._groups.add(proc.pid)
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        timed_out = False
        try:
            while True:
                if time.monotonic() > deadline or self.stopping.is_set():
                    timed_out = not self.stopping.is_set()
                    os.killpg(proc.pid, signal.SIGKILL)
                    break
                ready, _, _ = select.select([fd], [], [], 0.5)
                if not ready:
                    continue
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                emit(chunk)
            code = proc.wait()
        finally:
            proc.stdout.close()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # leftovers (daemons the build started)
            with self._lock:
                self._groups.discard(proc.pid)
        if timed_out:
            raise RunnerFailure(
                f"build exceeded the emulator's --build-timeout of {self.settings.build_timeout:g} s; "
                "the process group was killed"
            )
        if self.stopping.is_set():
            raise RunnerFailure("emulator shutting down")
        if code < 0:
            # Node's child 'close' gives code null for a signal death and the runner maps it to 0.
            return 0 if self.settings.quirks else 128 - code
        return code

