"""The pipeline, top to bottom: plan -> package -> upload -> start -> follow -> report.

Used by the GitHub Action entry point and by the command line alike; it never touches
GitHub-specific files itself (see action.py for that edge).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from butterbase_edge_deploy import lockfile, prebuilt, source
from butterbase_edge_deploy.api import ButterbaseClient, Deployment, Upload
from butterbase_edge_deploy.archive import Archive
from butterbase_edge_deploy.console import Console
from butterbase_edge_deploy.errors import (
    DeploymentFailed,
    DeployTimeout,
    InputError,
    PackagingError,
)
from butterbase_edge_deploy.follow import Outcome, wait_for_terminal
from butterbase_edge_deploy.logstream import LogFollower
from butterbase_edge_deploy.report import RunReport
from butterbase_edge_deploy.settings import Settings
from butterbase_edge_deploy.upload import put_zip, safe_location

LOG_DRAIN_SECONDS = 5.0


class Pipeline:
    def __init__(self, settings: Settings, console: Console, report: RunReport) -> None:
        self.settings = settings
        self.console = console
        self.report = report
        self._client: ButterbaseClient | None = None
        report.app_id = settings.app_id
        report.framework = settings.framework

    @property
    def client(self) -> ButterbaseClient:
        if self._client is None:
            self._client = ButterbaseClient(self.settings.api_url, self.settings.api_key, self.settings.app_id)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    # -- plan ---------------------------------------------------------------------------------

    def choose_flow(self) -> str:
        flow = self.settings.flow
        if flow != "auto":
            return flow
        if self.settings.deployment_id:
            return "attach"
        if prebuilt.has_worker(self.settings.output_path):
            return "prebuilt"
        if (self.settings.working_directory / "package.json").is_file():
            return "source"
        raise InputError("flow", f"is auto, but '{self.settings.output_dir}' holds no built worker and "
                         "working_directory has no package.json",
                         "build first (npx @cloudflare/next-on-pages), or point working_directory at the app")

    def run(self) -> None:
        flow = self.choose_flow()
        if self.settings.deployment_id and flow != "list":
            flow = "attach"
        self.report.flow = flow
        chosen = ""
        if self.settings.flow == "auto" and flow in ("prebuilt", "source"):
            chosen = (f" (auto: {self.settings.output_dir} holds _worker.js)" if flow == "prebuilt"
                      else f" (auto: no _worker.js in {self.settings.output_dir})")
        self.console.info(f"Butterbase Edge SSR deploy: app {self.settings.app_id}, flow {flow}{chosen}")
        if flow == "list":
            self.list_deployments()
        elif flow == "attach":
            self.attach(self.settings.deployment_id or "")
        elif flow == "prebuilt":
            self.deploy_prebuilt()
        else:
            self.deploy_source()

    # -- flows ---------------------------------------------------------------------------------

    def deploy_prebuilt(self) -> None:
        settings = self.settings
        with tempfile.TemporaryDirectory(prefix="butterbase-") as scratch:
            with self.stage("package", f"Package {settings.output_dir}"):
                archive, layout = prebuilt.package(settings.output_path, settings.output_dir,
                                                   Path(scratch) / "output.zip")
                self._record_archive(archive.file_count, archive.size, archive.uncompressed_bytes)
                self.report.worker_bytes = layout.worker_bytes
                shape = "_worker.js/ folder" if layout.worker_is_folder else "_worker.js file"
                self.console.info(f"{shape}: {layout.module_count} module(s), {_size(layout.worker_bytes)}; "
                                  f"{layout.asset_count} static file(s)")
                if layout.dropped:
                    self.console.info(f"{len(layout.dropped)} file(s) in _worker.js/ are not modules "
                                      f"(.js/.mjs/.wasm) and are ignored by Butterbase, e.g. {layout.dropped[0]}")
                if layout.asset_count > prebuilt.FREE_PLAN_FILE_LIMIT:
                    self.console.warning(f"{layout.asset_count} static files: over the 20,000 files per "
                                         "version that Cloudflare allows on free plans")
            if settings.dry_run:
                self._dry_run_done()
                return
            with self.stage("upload", "Upload"):
                upload = self._create_and_upload(self.client.create_prebuilt, archive,
                                                 "remove large files from the output")
            with self.stage("deploy", "Deploy"):
                status = self.client.start_prebuilt(upload.deployment_id)
                self.console.info(f"Started: {status or 'accepted'}")
                outcome = self._follow(upload.deployment_id)
        self.finish(outcome)

    def deploy_source(self) -> None:
        settings = self.settings
        project = settings.working_directory
        with tempfile.TemporaryDirectory(prefix="butterbase-") as scratch:
            with self.stage("package", "Package source"):
                lock = lockfile.detect(project)
                manager = settings.package_manager or lock.package_manager
                self.report.lockfile = lock.path.name
                self.report.lockfile_hash = lock.sha256
                self.console.info(f"Cache key: sha256 of {lock.path.name} = {lock.sha256}")
                if lock.is_package_json:
                    self.console.warning("no lockfile (pnpm-lock.yaml, yarn.lock or package-lock.json) found; "
                                         "package.json was hashed as the cache key. Commit a lockfile for "
                                         "reproducible installs")
                if lock.others:
                    self.console.warning(f"several lockfiles found: used {lock.path.name} (precedence pnpm, "
                                         f"yarn, npm), ignored {', '.join(lock.others)}; delete the stale ones")
                if settings.package_manager and not lock.is_package_json and manager != lock.package_manager:
                    self.console.warning(f"package_manager is {manager} but the lockfile is {lock.path.name}")
                self.console.info(f"Build on Butterbase: {manager} install, then `{settings.build_command}`, "
                                  f"output {settings.output_dir}")
                archive, _entries = source.package(project, settings.output_dir, Path(scratch) / "source.zip")
                self._record_archive(archive.file_count, archive.size, archive.uncompressed_bytes)
            if settings.dry_run:
                self._dry_run_done()
                return
            with self.stage("upload", "Upload"):
                upload = self._create_and_upload(self.client.create_from_source, archive,
                                                 "exclude files in .butterbaseignore")
            with self.stage("build", "Build on Butterbase"):
                started = self.client.start_from_source(
                    upload.deployment_id, build_command=settings.build_command, output_dir=settings.output_dir,
                    package_manager=manager, lockfile_hash=lock.sha256, user_env=settings.user_env)
                self.report.build_id = started.build_id or self.report.build_id
                self.console.info(f"Build {self.report.build_id or ''} started: {settings.build_command}")
                outcome = self._follow(upload.deployment_id, logs_url=started.logs_url)
        self.finish(outcome)

    def attach(self, deployment_id: str) -> None:
        self.report.deployment_id = deployment_id
        with self.stage("follow", f"Follow deployment {deployment_id}"):
            current = self.client.get(deployment_id)
            self._show_status(current)
            # A from-source build has a log to show; for anything else the log route answers 404 and
            # the follower stops quietly.
            logs_url = None if current.terminal else self.client.logs_url(deployment_id)
            outcome = self._follow(deployment_id, logs_url=logs_url)
        self.finish(outcome)

    def list_deployments(self) -> None:
        with self.stage("list", "Deployments"):
            rows = self.client.list()
            self.report.deployments = [row.as_output() for row in rows]
            for line in table(rows):
                self.console.relay(line)
            live = next((row for row in rows if row.status == "READY"), None)
            if live is not None:
                self.report.deployment_id = live.id
                self.report.url = live.url or ""
                self.report.status = live.status
            self.console.info(f"{len(rows)} deployment(s); live: {live.url if live else 'none'}")

    # -- steps ---------------------------------------------------------------------------------

    def _create_and_upload(self, create: Callable[[str], Upload], archive: Archive, fix: str) -> Upload:
        upload = create(self.settings.framework)
        self.report.deployment_id = upload.deployment_id
        self.report.build_id = upload.build_id or ""
        self.console.info(f"Created deployment {upload.deployment_id}")
        if archive.size > upload.max_bytes:
            raise PackagingError(f"the zip is {_size(archive.size)}, over the server's limit of "
                                 f"{_size(upload.max_bytes)}", fix)
        self.console.info(f"Uploading {_size(archive.size)} to {safe_location(upload.upload_url).split('/')[2]}")
        seconds = put_zip(upload.upload_url, archive.path, _ProgressPrinter(self.console, archive.size))
        rate = archive.size / seconds / 1024 / 1024 if seconds > 0 else 0
        self.console.info(f"Uploaded {_size(archive.size)} in {seconds:.1f} s ({rate:.1f} MiB/s)")
        return upload

    def _follow(self, deployment_id: str, *, logs_url: str | None = None) -> Outcome:
        deadline = time.monotonic() + self.settings.timeout
        if logs_url is None:
            return wait_for_terminal(self.client, deployment_id, deadline=deadline, on_status=self._show_status)
        finished = False
        follower = LogFollower(self.client, logs_url, self.console.relay, keep_going=lambda: not finished)
        follower.start()
        try:
            outcome = wait_for_terminal(self.client, deployment_id, deadline=deadline,
                                        on_status=self._show_status, log=follower.state)
        finally:
            finished = True
            # The follower makes one last pass over the finished log; a stream that never closes
            # must not hold the result back for long.
            if not follower.state.ended.wait(LOG_DRAIN_SECONDS):
                follower.stop()
            follower.join(1.0)
        self.report.log_tail = follower.state.tail(30)
        self.report.cache_restored = follower.state.cache_restored
        if follower.state.connections == 0:
            self.console.info("(the build log could not be read; the result comes from the status)")
        return outcome

    def finish(self, outcome: Outcome) -> None:
        deployment = outcome.deployment
        report = self.report
        report.status = outcome.status
        if deployment is not None:
            report.url = deployment.url or ""
        deployment_id = report.deployment_id
        last = deployment.status if deployment else "unknown"
        if outcome.status == "READY":
            self.console.info(f"Ready: {report.url}")
            return
        if outcome.status == "TIMEOUT":
            raise DeployTimeout(
                f"deployment {deployment_id} did not finish within {self.settings.timeout} s (last status {last})",
                f"it may still finish: follow it in a new run with deployment_id: {deployment_id}, "
                "or raise timeout")
        if outcome.status == "SUPERSEDED":
            raise DeploymentFailed(f"deployment {deployment_id} was superseded by another deploy to this app",
                                   "serialise deploys per app with a workflow concurrency group",
                                   status="SUPERSEDED")
        if outcome.status == "CANCELED":
            raise DeploymentFailed(f"deployment {deployment_id} was cancelled",
                                   "run the deploy again if the cancellation was not intended", status="CANCELED")
        reason = outcome.detail or (deployment.error if deployment else None) or "no reason given"
        raise DeploymentFailed(f"deployment {deployment_id} failed: {reason}", fix_for(reason))

    def _show_status(self, deployment: Deployment) -> None:
        note = f" ({deployment.error})" if deployment.error else ""
        self.console.relay(f"status: {deployment.status}{note}")

    def _record_archive(self, files: int, size: int, uncompressed: int) -> None:
        self.report.file_count = files
        self.report.zip_bytes = size
        self.report.uncompressed_bytes = uncompressed
        self.console.info(f"{files} file(s), {_size(uncompressed)} -> zip {_size(size)}")

    def _dry_run_done(self) -> None:
        self.report.status = "DRY_RUN"
        self.console.info("dry_run: packaged and validated; nothing was sent")

    @contextmanager
    def stage(self, name: str, title: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            with self.console.group(title):
                yield
        finally:
            self.report.stages[name] = round(time.monotonic() - started, 2)


class _ProgressPrinter:
    """Progress lines at most every 2 s, for uploads large enough to take that long."""

    def __init__(self, console: Console, total: int) -> None:
        self._console = console
        self._total = total
        self._last = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self._last >= 2.0 and done < total:
            self._last = now
            self._console.info(f"  {done * 100 // max(total, 1)}% ({_size(done)} of {_size(total)})")


_FIXES = (
    ("Zip is missing _worker.js", "output_dir must be the folder that holds _worker.js "
     "(for next-on-pages: .vercel/output/static), zipped by this action"),
    ("WORKER_TOO_LARGE", "the worker and its modules must stay under 5 MiB uncompressed"),
    ("BUILD_NONZERO_EXIT", "the install or build command failed: see the build log above"),
    ("OUTPUT_NOT_FOUND", "the build did not create output_dir: check build_command and output_dir"),
    ("ARTIFACT_TOO_LARGE", "the build output zips to over 25 MiB: trim static files"),
    ("SOURCE_TOO_LARGE", "the source zip is over 50 MiB: exclude files in .butterbaseignore"),
    ("Upload expired", "run the job again; a deploy must start within 15 minutes of being created"),
    ("not found", "the upload did not reach storage: run the job again"),
    ("INTERNAL", "the server-side build failed inside Butterbase: retry, or build in the workflow and use "
     "flow: prebuilt"),
    ("DEPLOY_FAILED", "the build worked but publishing failed: see the build log, then retry"),
)


def fix_for(reason: str) -> str:
    for marker, fix in _FIXES:
        if marker.lower() in reason.lower():
            return fix
    return "see the log above; retry, and contact Butterbase if the error persists"


def table(rows: list[Deployment]) -> list[str]:
    header = ("CREATED", "STATUS", "ID", "FILES", "SIZE", "URL")
    body = [((row.created_at or "")[:19].replace("T", " "), row.status, row.id,
             "" if row.file_count is None else str(row.file_count),
             "" if row.total_size_bytes is None else _size(row.total_size_bytes), row.url or "") for row in rows]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    return ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip() for r in [header, *body]]


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / 1024 / 1024:.1f} MiB"


