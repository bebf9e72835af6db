"""SQLite state: deployments, build jobs, apps (site ports) and emulator metadata.

One connection guarded by one lock: every read-modify-write runs as a single
transaction under it, which is what keeps 20 parallel deploys consistent (the real
server gets the same from ``SELECT … FOR UPDATE``). WAL lets another process (a test)
read the file while the emulator runs.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

STATUSES = ("WAITING", "UPLOADING", "BUILDING", "READY", "ERROR", "CANCELED", "SUPERSEDED")
ACTIVE_FOR_SUPERSEDE = ("WAITING", "UPLOADING", "BUILDING", "READY")
CANCELABLE = ("WAITING", "UPLOADING", "BUILDING")

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS apps (
    app_id TEXT PRIMARY KEY,
    site_port INTEGER,
    live_deployment_id TEXT
);
CREATE TABLE IF NOT EXISTS deployments (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    app_id TEXT NOT NULL,
    flow TEXT NOT NULL,
    framework TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ({", ".join(f"'{s}'" for s in STATUSES)})),
    error_message TEXT,
    deployment_url TEXT,
    file_count INTEGER,
    total_size_bytes INTEGER,
    worker_script_size_bytes INTEGER,
    worker_script_module_count INTEGER,
    r2_object_key TEXT,
    upload_expires_at TEXT,
    deployed_by TEXT,
    created_at TEXT NOT NULL,
    started_at TEXT,
    completed_at TEXT,
    updated_at TEXT NOT NULL,
    status_changed_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deployments_app ON deployments (app_id, created_at);
CREATE TABLE IF NOT EXISTS status_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    deployment_id TEXT NOT NULL,
    status TEXT NOT NULL,
    error_message TEXT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS status_events_dep ON status_events (deployment_id);
CREATE TABLE IF NOT EXISTS build_jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    deployment_id TEXT NOT NULL,
    app_id TEXT,
    deploy_type TEXT NOT NULL,
    status TEXT NOT NULL,
    build_command TEXT,
    output_dir TEXT,
    package_manager TEXT,
    lockfile_hash TEXT,
    exit_code INTEGER,
    failure_reason TEXT,
    source_r2_key TEXT,
    log_r2_key TEXT,
    created_at TEXT NOT NULL,
    started_at TEXT,
    completed_at TEXT
);
CREATE INDEX IF NOT EXISTS build_jobs_dep ON build_jobs (deployment_id);
"""


def now_iso() -> str:
    """A timestamp as node-pg serialises timestamptz: ISO 8601, milliseconds, Z."""
    return iso_at(datetime.now(UTC))


def iso_at(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


class Store:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _one(self, sql: str, args: tuple[Any, ...] = ()) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(sql, args).fetchone()
        return dict(row) if row else None

    # --- meta / apps ------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        row = self._one("SELECT value FROM meta WHERE key = ?", (key,))
        return row["value"] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def app(self, app_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM apps WHERE app_id = ?", (app_id,))

    def ensure_app(self, app_id: str) -> dict[str, Any]:
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO apps (app_id) VALUES (?)", (app_id,))
        row = self.app(app_id)
        assert row is not None
        return row

    def set_site_port(self, app_id: str, port: int) -> None:
        with self._lock:
            self._db.execute("UPDATE apps SET site_port = ? WHERE app_id = ?", (port, app_id))

    def set_live_deployment(self, app_id: str, deployment_id: str | None) -> None:
        with self._lock:
            self._db.execute("UPDATE apps SET live_deployment_id = ? WHERE app_id = ?", (deployment_id, app_id))

    # --- deployments --------------------------------------------------------------

    def _event(self, db: sqlite3.Connection, dep_id: str, status: str, error: str | None, at: str,
               actor: str) -> None:
        db.execute(
            "INSERT INTO status_events (deployment_id, status, error_message, at, actor) VALUES (?, ?, ?, ?, ?)",
            (dep_id, status, error, at, actor),
        )

    def create_deployment(
        self, app_id: str, flow: str, framework: str, *, r2_object_key: str | None = None,
        upload_expires_at: str | None = None, deployed_by: str = "emulator-user",
    ) -> dict[str, Any]:
        dep_id = str(uuid.uuid4())
        at = now_iso()
        with self.transaction() as db:
            db.execute(
                """INSERT INTO deployments (id, app_id, flow, framework, status, r2_object_key, upload_expires_at,
                       deployed_by, created_at, updated_at, status_changed_at)
                   VALUES (?, ?, ?, ?, 'WAITING', ?, ?, ?, ?, ?, ?)""",
                (dep_id, app_id, flow, framework, r2_object_key, upload_expires_at, deployed_by, at, at, at),
            )
            self._event(db, dep_id, "WAITING", None, at, "create")
        row = self.deployment(dep_id)
        assert row is not None
        return row

    def deployment(self, dep_id: str, app_id: str | None = None) -> dict[str, Any] | None:
        if app_id is None:
            return self._one("SELECT * FROM deployments WHERE id = ?", (dep_id,))
        return self._one("SELECT * FROM deployments WHERE id = ? AND app_id = ?", (dep_id, app_id))

    def list_deployments(self, app_id: str, limit: int = 50) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM deployments WHERE app_id = ? ORDER BY created_at DESC, seq DESC LIMIT ?",
                (app_id, limit),
            ).fetchall()
        return [dict(r) for r in rows]

    def all_deployments(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM deployments ORDER BY seq").fetchall()
        return [dict(r) for r in rows]

    def set_status(
        self, dep_id: str, status: str, *, error: str | None = None, actor: str = "pipeline",
        completed: bool = False, started: bool = False, keep_error: bool = False,
    ) -> bool:
        """Unguarded status write, as most of the real pipeline's UPDATEs are."""
        at = now_iso()
        sets = ["status = ?", "updated_at = ?", "status_changed_at = ?"]
        args: list[Any] = [status, at, at]
        if not keep_error:
            sets.append("error_message = ?")
            args.append(error)
        if completed:
            sets.append("completed_at = ?")
            args.append(at)
        if started:
            sets.append("started_at = ?")
            args.append(at)
        with self.transaction() as db:
            cur = db.execute(f"UPDATE deployments SET {', '.join(sets)} WHERE id = ?", (*args, dep_id))
            if cur.rowcount:
                self._event(db, dep_id, status, error, at, actor)
        return cur.rowcount > 0

    def start_prebuilt(self, app_id: str, dep_id: str, now: datetime) -> tuple[str, str | None]:
        """The start decision of SVC.startDeployment, made atomically.

        Returns (outcome, detail): ("missing", None), ("building", None), ("invalid", status),
        ("expired", None) or ("started", r2_key).
        """
        at = iso_at(now)
        with self.transaction() as db:
            row = db.execute("SELECT * FROM deployments WHERE id = ? AND app_id = ?", (dep_id, app_id)).fetchone()
            if row is None:
                return "missing", None
            if row["status"] == "BUILDING":
                return "building", None
            if row["status"] not in ("WAITING", "UPLOADING"):
                return "invalid", row["status"]
            expires = row["upload_expires_at"]
            if expires and parse_iso(expires) < now:
                db.execute(
                    "UPDATE deployments SET status = 'ERROR', error_message = 'Upload expired', updated_at = ?, "
                    "status_changed_at = ? WHERE id = ?",
                    (at, at, dep_id),
                )
                self._event(db, dep_id, "ERROR", "Upload expired", at, "start")
                return "expired", None
            db.execute(
                "UPDATE deployments SET status = 'UPLOADING', started_at = ?, updated_at = ?, status_changed_at = ? "
                "WHERE id = ?",
                (at, at, at, dep_id),
            )
            self._event(db, dep_id, "UPLOADING", None, at, "start")
            return "started", row["r2_object_key"]

    def cancel(self, app_id: str, dep_id: str) -> tuple[str, str | None]:
        """Returns ("missing"|"invalid"|"canceled", previous status)."""
        at = now_iso()
        with self.transaction() as db:
            row = db.execute("SELECT status FROM deployments WHERE id = ? AND app_id = ?", (dep_id, app_id)).fetchone()
            if row is None:
                return "missing", None
            if row["status"] not in CANCELABLE:
                return "invalid", row["status"]
            db.execute(
                "UPDATE deployments SET status = 'CANCELED', completed_at = ?, updated_at = ?, status_changed_at = ? "
                "WHERE id = ?",
                (at, at, at, dep_id),
            )
            self._event(db, dep_id, "CANCELED", None, at, "cancel")
            return "canceled", row["status"]

    def delete(self, app_id: str, dep_id: str) -> dict[str, Any] | None:
        with self.transaction() as db:
            row = db.execute("SELECT * FROM deployments WHERE id = ? AND app_id = ?", (dep_id, app_id)).fetchone()
            if row is None:
                return None
            db.execute("DELETE FROM deployments WHERE id = ?", (dep_id,))
            self._event(db, dep_id, "DELETED", None, now_iso(), "delete")
            return dict(row)

    def commit_ready_and_supersede(
        self, app_id: str, dep_id: str, *, url: str, file_count: int, total_size: int, worker_size: int,
        module_count: int,
    ) -> bool:
        """commitReadyAndSupersede: one transaction; skipped entirely when the row is CANCELED."""
        at = now_iso()
        with self.transaction() as db:
            row = db.execute("SELECT status FROM deployments WHERE id = ?", (dep_id,)).fetchone()
            if row is None or row["status"] == "CANCELED":
                return False
            others = db.execute(
                f"SELECT id FROM deployments WHERE app_id = ? AND id <> ? AND status IN "
                f"({', '.join('?' for _ in ACTIVE_FOR_SUPERSEDE)})",
                (app_id, dep_id, *ACTIVE_FOR_SUPERSEDE),
            ).fetchall()
            for other in others:
                db.execute(
                    "UPDATE deployments SET status = 'SUPERSEDED', updated_at = ?, status_changed_at = ? WHERE id = ?",
                    (at, at, other["id"]),
                )
                self._event(db, other["id"], "SUPERSEDED", None, at, f"supersede by {dep_id}")
            db.execute(
                """UPDATE deployments SET status = 'READY', deployment_url = ?, file_count = ?, total_size_bytes = ?,
                       worker_script_size_bytes = ?, worker_script_module_count = ?, completed_at = ?, updated_at = ?,
                       status_changed_at = ?
                   WHERE id = ? AND status <> 'CANCELED'""",
                (url, file_count, total_size, worker_size, module_count, at, at, at, dep_id),
            )
            self._event(db, dep_id, "READY", None, at, "pipeline")
            return True

    def force_status(self, dep_id: str, status: str, error: str | None) -> bool:
        """Admin override: set a status as another actor would, no rules applied."""
        at = now_iso()
        completed = status in ("READY", "CANCELED")
        with self.transaction() as db:
            cur = db.execute(
                "UPDATE deployments SET status = ?, error_message = ?, updated_at = ?, status_changed_at = ?"
                + (", completed_at = COALESCE(completed_at, ?)" if completed else "")
                + " WHERE id = ?",
                (status, error, at, at, *((at,) if completed else ()), dep_id),
            )
            if cur.rowcount:
                self._event(db, dep_id, status, error, at, "admin")
            return cur.rowcount > 0

    def status_events(self, dep_id: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT status, error_message, at, actor FROM status_events WHERE deployment_id = ? ORDER BY seq",
                (dep_id,),
            ).fetchall()
        return [dict(r) for r in rows]

    # --- build jobs ------------------------------------------------------------------

    def create_job(self, dep_id: str) -> dict[str, Any]:
        job_id = str(uuid.uuid4())
        with self._lock:
            self._db.execute(
                """INSERT INTO build_jobs
                       (id, deployment_id, deploy_type, status, source_r2_key, log_r2_key, created_at)
                   VALUES (?, ?, 'edge_ssr', 'PENDING', ?, ?, ?)""",
                (job_id, dep_id, f"source/{dep_id}.zip", f"logs/{dep_id}.txt", now_iso()),
            )
        job = self.job(job_id)
        assert job is not None
        return job

    def job(self, job_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM build_jobs WHERE id = ?", (job_id,))

    def newest_job(self, dep_id: str, status: str | None = None) -> dict[str, Any] | None:
        if status:
            return self._one(
                "SELECT * FROM build_jobs WHERE deployment_id = ? AND deploy_type = 'edge_ssr' AND status = ? "
                "ORDER BY created_at DESC, seq DESC LIMIT 1",
                (dep_id, status),
            )
        return self._one(
            "SELECT * FROM build_jobs WHERE deployment_id = ? AND deploy_type = 'edge_ssr' "
            "ORDER BY created_at DESC, seq DESC LIMIT 1",
            (dep_id,),
        )

    def update_job(self, job_id: str, **fields: Any) -> None:
        if not fields:
            return
        cols = ", ".join(f"{name} = ?" for name in fields)
        with self._lock:
            self._db.execute(f"UPDATE build_jobs SET {cols} WHERE id = ?", (*fields.values(), job_id))

    def claim_pending_job(self, job_id: str, lockfile_hash: str, app_id: str) -> bool:
        """PENDING → BUILDING, once: the guard the real driver gets from its handle map."""
        with self.transaction() as db:
            cur = db.execute(
                "UPDATE build_jobs SET status = 'BUILDING', started_at = ?, lockfile_hash = ?, app_id = ? "
                "WHERE id = ? AND status = 'PENDING'",
                (now_iso(), lockfile_hash, app_id, job_id),
            )
            return cur.rowcount > 0

    def interrupted_jobs(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM build_jobs WHERE status IN ('BUILDING', 'DEPLOYING')").fetchall()
        return [dict(r) for r in rows]
