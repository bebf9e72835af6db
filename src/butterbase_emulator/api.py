"""The control API's edge-SSR routes (contract §3), in the server's check order.

Order matters and is kept: the auth hook (bad ``bb_sk_`` key / bad bearer → 401) runs
first; on prebuilt routes the fly-replay hook then 404s an unknown app before anything
else; the body parser runs before the handler (so a malformed body beats a missing
Authorization header); then each handler does its own auth/app/validation sequence.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from . import errors
from .errors import ApiError
from .exchange import Exchange
from .store import iso_at
from .validation import MISSING, Invalid, create_body, read_request_body, start_body, validation_error

if TYPE_CHECKING:
    from .emulator import Emulator

MAX_DEPLOYMENT_SIZE_BYTES = 104857600
MAX_SOURCE_BYTES = 50 * 1024 * 1024
LIST_LIMIT = 50
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")


@dataclass
class Call:
    """One routed API request, with what the hooks established."""

    ex: Exchange
    emu: Emulator
    app_id: str
    dep_id: str
    auth: str  # "valid" | "none" (invalid never reaches a handler)
    body: Any = MISSING

    @property
    def quirks(self) -> bool:
        return self.emu.config.quirks

    def require_user(self) -> None:
        if self.auth != "valid":
            raise errors.authentication_required()

    def resolve_app(self) -> None:
        if self.app_id not in self.emu.config.apps:
            raise errors.app_not_found()

    def deployment_uuid(self) -> str:
        """The id as Postgres would accept it, or the 22P02 → 400 the plugin returns."""
        if not UUID_RE.match(self.dep_id):
            raise errors.invalid_uuid()
        return str(uuid.UUID(self.dep_id))


def classify_auth(header: str | None, api_key: str) -> tuple[str, ApiError | None]:
    """The auth hook: ('valid'|'invalid'|'none', error to answer at once)."""
    if header is None:
        return "none", None
    token = header[7:] if header.startswith("Bearer ") else None
    if not token:
        return "invalid" if header else "none", None
    if token.startswith("bb_sk_"):
        return ("valid", None) if token == api_key else ("invalid", errors.invalid_api_key())
    if token.startswith("bb_sub_"):
        return "invalid", None  # substrate tokens are anonymous on these routes
    return "invalid", errors.invalid_token()


def deployment_json(row: dict[str, Any]) -> dict[str, Any]:
    def size(value: int | None) -> int | None:
        return value if value else None  # the route's truthiness check: 0 → null

    return {
        "id": row["id"],
        "framework": row["framework"],
        "url": row["deployment_url"],
        "status": row["status"],
        "error": row["error_message"],
        "fileCount": row["file_count"],
        "totalSizeBytes": size(row["total_size_bytes"]),
        "workerScriptSizeBytes": size(row["worker_script_size_bytes"]),
        "workerScriptModuleCount": size(row["worker_script_module_count"]),
        "createdAt": row["created_at"],
        "startedAt": row["started_at"],
        "completedAt": row["completed_at"],
        "updatedAt": row["updated_at"],
    }


# --- prebuilt flow (R-SSR) -----------------------------------------------------------------


def create_prebuilt(call: Call) -> None:
    try:
        framework = create_body(call.body, missing_is_empty=False)
    except Invalid as invalid:
        raise validation_error(invalid, call.quirks) from None
    call.require_user()
    call.resolve_app()
    emu = call.emu
    ttl = emu.config.upload_ttl_prebuilt
    row = emu.store.create_deployment(call.app_id, "prebuilt", framework)
    key = f"{call.app_id}/_deployments/{row['id']}.zip"
    url = emu.presigner().presign_put(
        key, ttl, {"x-butterbase-app-id": call.app_id, "x-butterbase-deployment-id": row["id"]}
    )
    expires_at = iso_at(datetime.now(UTC) + timedelta(seconds=ttl))
    with emu.store.transaction() as db:
        db.execute("UPDATE deployments SET r2_object_key = ?, upload_expires_at = ? WHERE id = ?",
                   (key, expires_at, row["id"]))
    call.ex.send_json(200, {"id": row["id"], "uploadUrl": url, "expiresIn": ttl,
                            "maxSizeBytes": MAX_DEPLOYMENT_SIZE_BYTES})


def start_prebuilt(call: Call) -> None:
    call.require_user()
    call.resolve_app()
    dep_id = call.deployment_uuid()
    remediation = "Ensure the zip file was uploaded successfully and try again."
    outcome, detail = call.emu.store.start_prebuilt(call.app_id, dep_id, datetime.now(UTC))
    if outcome == "missing":
        if call.quirks:
            raise errors.cloudflare_error("Edge SSR deployment not found", remediation)
        raise ApiError(404, "RESOURCE_NOT_FOUND", "Edge SSR deployment not found",
                       "Verify the deployment ID is correct. Create a deployment first.")
    if outcome == "building":
        call.ex.send_json(200, {"id": dep_id, "status": "BUILDING"})
        return
    if outcome == "invalid":
        raise errors.cloudflare_error(f"Edge SSR deployment is in {detail} status, cannot start", remediation)
    if outcome == "expired":
        raise errors.cloudflare_error("Upload URL expired", remediation)
    call.emu.deployer.start_prebuilt(dep_id, detail)
    call.ex.send_json(200, {"id": dep_id, "status": "UPLOADING"})


def get_deployment(call: Call) -> None:
    call.require_user()
    call.resolve_app()
    row = call.emu.store.deployment(call.deployment_uuid(), call.app_id)
    if row is None:
        raise errors.deployment_not_found()
    call.ex.send_json(200, deployment_json(row))


def list_deployments(call: Call) -> None:
    call.require_user()
    call.resolve_app()
    rows = call.emu.store.list_deployments(call.app_id, LIST_LIMIT)
    call.ex.send_json(200, {"deployments": [deployment_json(r) for r in rows]})


def _not_found_4xx(message: str, remediation: str) -> ApiError:
    return ApiError(404, "RESOURCE_NOT_FOUND", message, remediation)


def sync_deployment(call: Call) -> None:
    call.require_user()
    call.resolve_app()
    row = call.emu.store.deployment(call.deployment_uuid(), call.app_id)
    if row is None:
        raise _not_found_4xx("Edge SSR deployment not found", "Check the deployment exists and try again.")
    body: dict[str, Any] = {"id": row["id"], "status": row["status"]}
    if row["deployment_url"]:
        body["url"] = row["deployment_url"]
    call.ex.send_json(200, body)


def cancel_deployment(call: Call) -> None:
    call.require_user()
    call.resolve_app()
    dep_id = call.deployment_uuid()
    remediation = "Check the deployment status and try again."
    outcome, previous = call.emu.store.cancel(call.app_id, dep_id)
    if outcome == "missing":
        raise _not_found_4xx("Edge SSR deployment not found", remediation)
    if outcome == "invalid":
        raise errors.cloudflare_error(f"Cannot cancel deployment in {previous} status", remediation)
    body: dict[str, Any] = {"id": dep_id, "status": "CANCELED"}
    if previous == "BUILDING":
        body["warning"] = ("Deployment was being pushed to Cloudflare; the worker may still go live briefly "
                           "before being superseded.")
    call.ex.send_json(200, body)


def delete_deployment(call: Call) -> None:
    call.require_user()
    call.resolve_app()
    row = call.emu.store.delete(call.app_id, call.deployment_uuid())
    if row is None:
        raise _not_found_4xx("Edge SSR deployment not found", "Verify the deployment ID is correct.")
    if row["r2_object_key"]:
        call.emu.objects.delete(row["r2_object_key"])
    call.ex.send_json(200, {"deleted": True})


# --- from-source flow (R-SRC) -----------------------------------------------------------------


def create_source(call: Call) -> None:
    call.require_user()
    call.resolve_app()
    try:
        framework = create_body(call.body, missing_is_empty=True)
    except Invalid as invalid:
        raise validation_error(invalid, call.quirks) from None
    emu = call.emu
    row = emu.store.create_deployment(call.app_id, "source", framework)
    job = emu.store.create_job(row["id"])
    url = emu.presigner().presign_put(f"source/{row['id']}.zip", emu.config.upload_ttl_source)
    call.ex.send_json(201, {"deployment_id": row["id"], "build_id": job["id"], "upload_url": url,
                            "max_source_bytes": MAX_SOURCE_BYTES})


def start_source(call: Call) -> None:
    call.require_user()
    call.resolve_app()
    try:
        params = start_body(call.body)
    except Invalid as invalid:
        raise validation_error(invalid, call.quirks) from None
    emu = call.emu
    dep_id = call.deployment_uuid()
    job = emu.store.newest_job(dep_id, "PENDING")
    if job is None:
        raise ApiError(404, "RESOURCE_NOT_FOUND", "No PENDING build job found for that deployment",
                       "Verify the deployment_id is correct and was created via the from-source endpoint.")
    emu.store.update_job(job["id"], build_command=params.build_command, output_dir=params.output_dir,
                         package_manager=params.package_manager)
    source_key = f"source/{dep_id}.zip"
    size = emu.objects.head(source_key)
    if size is None:
        raise ApiError(
            409, "STATE_PREREQUISITE_MISSING",
            f"Source zip not found at {source_key}. Upload the source zip to the presigned URL returned by the "
            "create call before starting the build.",
            "PUT the project source zip (Content-Type: application/zip) to the upload_url returned by the "
            "from-source create endpoint, then call /start again.",
        )
    if size > MAX_SOURCE_BYTES:
        raise ApiError(413, "QUOTA_FILE_SIZE_EXCEEDED", f"Source zip exceeds 50 MB (got {size} bytes).",
                       "Reduce source size by excluding node_modules and build outputs from the zip.")
    if not emu.builds.start(job["id"], dep_id, call.app_id, params):
        raise ApiError(409, "RESOURCE_CONFLICT", f"build {job['id']} already running",
                       "The requested operation conflicts with the current resource state.", with_doc_url=False)
    call.ex.send_json(202, {
        "build_id": job["id"],
        "status": "BUILDING",
        "logs_url": f"/v1/{call.app_id}/edge-ssr/deployments/from-source/{call.dep_id}/logs",
        "status_url": f"/v1/{call.app_id}/edge-ssr/deployments/{call.dep_id}",
    })


def stream_logs(call: Call) -> None:
    call.require_user()
    call.resolve_app()
    job = call.emu.store.newest_job(call.deployment_uuid())
    if job is None:
        raise ApiError(404, "RESOURCE_NOT_FOUND", "No build job found for that deployment",
                       "Verify the deployment_id is correct.")
    call.emu.builds.stream_logs(call.ex, job)


# --- routing -----------------------------------------------------------------------------------


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Callable[[Call], None]
    prebuilt: bool  # requiresAppRegion: the fly-replay hook applies


def _route(method: str, path: str, handler: Callable[[Call], None], prebuilt: bool) -> Route:
    regex = "^" + path.replace("{app}", "(?P<app>[^/]+)").replace("{id}", "(?P<id>[^/]+)") + "$"
    return Route(method, re.compile(regex), handler, prebuilt)


BASE = "/v1/{app}/edge-ssr/deployments"
# Static segments first, as Fastify's router prefers them over parameters.
ROUTES = [
    _route("POST", BASE + "/from-source", create_source, False),
    _route("POST", BASE + "/from-source/{id}/start", start_source, False),
    _route("GET", BASE + "/from-source/{id}/logs", stream_logs, False),
    _route("POST", BASE, create_prebuilt, True),
    _route("GET", BASE, list_deployments, True),
    _route("GET", BASE + "/{id}", get_deployment, True),
    _route("DELETE", BASE + "/{id}", delete_deployment, True),
    _route("POST", BASE + "/{id}/start", start_prebuilt, True),
    _route("POST", BASE + "/{id}/sync", sync_deployment, True),
    _route("POST", BASE + "/{id}/cancel", cancel_deployment, True),
]


def find_route(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    lookup = "GET" if method == "HEAD" else method
    for route in ROUTES:
        if route.method != lookup:
            continue
        match = route.pattern.match(path)
        if match:
            return route, match.groupdict()
    return None


def handle_api_request(ex: Exchange, emu: Emulator, auth: str, auth_error: ApiError | None) -> None:
    """Answer one API request; ApiError answers are written by the caller."""
    if auth_error is not None:
        raise auth_error
    found = find_route(ex.method, ex.path)
    if found is None:
        ex.drain()
        ex.send_json(404, errors.route_not_found(ex.method, ex.path))
        return
    route, params = found
    call = Call(ex=ex, emu=emu, app_id=params.get("app", ""), dep_id=params.get("id", ""), auth=auth)
    if route.prebuilt and call.app_id not in emu.config.apps:
        raise errors.app_region_not_found(call.app_id)
    if ex.method not in ("GET", "HEAD"):
        call.body = read_request_body(ex)
    route.handler(call)
