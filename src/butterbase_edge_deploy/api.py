"""The one module that knows the Butterbase HTTP API: paths, bodies, casing and the error envelope.

Contract: shared/docs/butterbase-api.md. Notable shapes: prebuilt create answers 200 camelCase,
from-source create 201 snake_case, from-source start 202 with *relative* logs/status URLs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from butterbase_edge_deploy import __version__
from butterbase_edge_deploy.errors import ApiError

USER_AGENT = f"butterbase-edge-deploy/{__version__}"
TERMINAL = ("READY", "ERROR", "CANCELED", "SUPERSEDED")
_JSON_TIMEOUT = (10, 30)
# The log stream sends nothing during silent build phases (no heartbeats), so its read timeout is long.
_STREAM_TIMEOUT = (10, 120)
_MAX_RETRY_AFTER = 60.0


class _ApiRetry(Retry):
    """urllib3 retries, but a POST is repeated only when the server said it did not process it."""

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if method.upper() == "POST":
            return bool(self.total) and (status_code == 429 or (status_code == 503 and has_retry_after))
        return super().is_retry(method, status_code, has_retry_after)

    def get_retry_after(self, response: Any) -> float | None:
        seconds = super().get_retry_after(response)
        return None if seconds is None else min(seconds, _MAX_RETRY_AFTER)


def _retry() -> Retry:
    return _ApiRetry(
        total=6, connect=4, read=3, status=5, backoff_factor=0.5, backoff_max=10,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "HEAD", "DELETE"}),
        respect_retry_after_header=True, raise_on_status=False, raise_on_redirect=False,
    )


@dataclass(frozen=True)
class Deployment:
    id: str
    status: str
    url: str | None
    error: str | None
    framework: str | None
    file_count: int | None
    total_size_bytes: int | None
    worker_size_bytes: int | None
    worker_module_count: int | None
    created_at: str | None
    completed_at: str | None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Deployment:
        return cls(
            id=str(body["id"]),
            status=str(body["status"]),
            url=body.get("url") or None,
            error=body.get("error") or None,
            framework=body.get("framework"),
            file_count=body.get("fileCount"),
            total_size_bytes=body.get("totalSizeBytes"),
            worker_size_bytes=body.get("workerScriptSizeBytes"),
            worker_module_count=body.get("workerScriptModuleCount"),
            created_at=body.get("createdAt"),
            completed_at=body.get("completedAt"),
        )

    def as_output(self) -> dict[str, Any]:
        return {
            "id": self.id, "status": self.status, "url": self.url, "error": self.error,
            "framework": self.framework, "fileCount": self.file_count,
            "totalSizeBytes": self.total_size_bytes, "workerScriptSizeBytes": self.worker_size_bytes,
            "createdAt": self.created_at, "completedAt": self.completed_at,
        }


@dataclass(frozen=True)
class Upload:
    deployment_id: str
    upload_url: str
    max_bytes: int
    build_id: str | None = None


@dataclass(frozen=True)
class BuildStarted:
    build_id: str | None
    logs_url: str
    status_url: str


class ButterbaseClient:
    """HTTP client for the Edge SSR deployment routes of one app."""

    def __init__(self, api_url: str, api_key: str, app_id: str) -> None:
        self.api_url = api_url.rstrip("/")
        self.app_id = app_id
        self._origin = _origin(self.api_url)
        self._session = requests.Session()
        self._session.headers["User-Agent"] = USER_AGENT
        self._session.headers["Authorization"] = f"Bearer {api_key}"
        adapter = HTTPAdapter(max_retries=_retry())
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    def close(self) -> None:
        self._session.close()

    # -- prebuilt flow --------------------------------------------------------------------

    def create_prebuilt(self, framework: str) -> Upload:
        body = self._json("POST", self._app_path("deployments"), "create the deployment",
                          body={"framework": framework})
        return Upload(
            deployment_id=_field(body, "id", "create the deployment"),
            upload_url=_field(body, "uploadUrl", "create the deployment"),
            max_bytes=int(body.get("maxSizeBytes") or 104_857_600),
        )

    def start_prebuilt(self, deployment_id: str) -> str:
        # A 2xx means it started, whatever the body says; calling start again could launch a
        # second pipeline (contract §3.1), so an odd body is not worth failing or retrying over.
        response = self._send("POST", self._app_path(f"deployments/{deployment_id}/start"), "start the deployment",
                              json_body={})
        if not 200 <= response.status_code < 300:
            raise _error_from(response, "start the deployment", self.app_id)
        try:
            body = response.json()
        except ValueError:
            return ""
        return str(body.get("status", "")) if isinstance(body, dict) else ""

    # -- from-source flow -----------------------------------------------------------------

    def create_from_source(self, framework: str) -> Upload:
        body = self._json("POST", self._app_path("deployments/from-source"), "create the deployment",
                          body={"framework": framework})
        return Upload(
            deployment_id=_field(body, "deployment_id", "create the deployment"),
            upload_url=_field(body, "upload_url", "create the deployment"),
            max_bytes=int(body.get("max_source_bytes") or 52_428_800),
            build_id=body.get("build_id"),
        )

    def start_from_source(self, deployment_id: str, *, build_command: str, output_dir: str,
                          package_manager: str, lockfile_hash: str, user_env: dict[str, str]) -> BuildStarted:
        body = self._json(
            "POST", self._app_path(f"deployments/from-source/{deployment_id}/start"), "start the build",
            body={"buildCommand": build_command, "outputDir": output_dir, "packageManager": package_manager,
                  "lockfileHash": lockfile_hash, "userEnv": user_env},
        )
        return BuildStarted(
            build_id=body.get("build_id"),
            logs_url=self.resolve(str(body.get("logs_url") or self.logs_url(deployment_id))),
            status_url=self.resolve(str(body.get("status_url") or self._app_path(f"deployments/{deployment_id}"))),
        )

    def logs_url(self, deployment_id: str) -> str:
        return self._app_path(f"deployments/from-source/{deployment_id}/logs")

    def open_log_stream(self, logs_url: str) -> requests.Response:
        """Open the build log (server-sent events). The caller reads and closes the response."""
        self._check_same_origin(logs_url)
        response = self._send("GET", logs_url, "read the build log", stream=True,
                              headers={"Accept": "text/event-stream"}, timeout=_STREAM_TIMEOUT)
        if response.status_code != 200:
            raise _error_from(response, "read the build log", self.app_id)
        return response

    # -- any deployment -------------------------------------------------------------------

    def get(self, deployment_id: str) -> Deployment:
        body = self._json("GET", self._app_path(f"deployments/{deployment_id}"), "read the deployment status")
        return _deployment(body, "read the deployment status")

    def list(self) -> list[Deployment]:
        body = self._json("GET", self._app_path("deployments"), "list deployments")
        rows = body.get("deployments")
        if not isinstance(rows, list):
            raise _unexpected("list deployments", "no 'deployments' list in the answer")
        return [_deployment(row, "list deployments") for row in rows]

    def cancel(self, deployment_id: str, *, timeout: float = 30.0) -> str:
        body = self._json("POST", self._app_path(f"deployments/{deployment_id}/cancel"),
                          "cancel the deployment", body={}, timeout=(min(timeout, 10.0), timeout))
        return str(body.get("status", ""))

    # -- plumbing ---------------------------------------------------------------------------

    def _app_path(self, rest: str) -> str:
        return f"{self.api_url}/v1/{self.app_id}/edge-ssr/{rest}"

    def resolve(self, url_or_path: str) -> str:
        """Turn the server's relative `logs_url`/`status_url` into absolute URLs on api_url."""
        if url_or_path.startswith("/"):
            parts = urlsplit(self.api_url)
            return f"{parts.scheme}://{parts.netloc}{url_or_path}"
        self._check_same_origin(url_or_path)
        return url_or_path

    def _check_same_origin(self, url: str) -> None:
        if _origin(url) != self._origin:
            # The API key is attached to every request of this session; it must not leave api_url.
            raise _unexpected("follow the build", f"the server pointed at another host ({_origin(url)})")

    def _json(self, method: str, url: str, action: str, *, body: dict[str, Any] | None = None,
              timeout: tuple[float, float] = _JSON_TIMEOUT) -> dict[str, Any]:
        response = self._send(method, url, action, json_body=body, timeout=timeout)
        # Any 2xx with the body we need will do (create answers 200 or 201 depending on the flow);
        # a 204 is the Fly-Replay answer, which carries nothing.
        if not 200 <= response.status_code < 300 or response.status_code == 204:
            raise _error_from(response, action, self.app_id)
        try:
            parsed = response.json()
        except ValueError:
            raise _unexpected(action, f"HTTP {response.status_code} with a body that is not JSON "
                                      f"({_content_type(response)})") from None
        if not isinstance(parsed, dict):
            raise _unexpected(action, "the JSON answer is not an object")
        return parsed

    def _send(self, method: str, url: str, action: str, *, json_body: dict[str, Any] | None = None,
              stream: bool = False, headers: dict[str, str] | None = None,
              timeout: tuple[float, float] = _JSON_TIMEOUT) -> requests.Response:
        kwargs: dict[str, Any] = {"timeout": timeout, "stream": stream, "allow_redirects": False,
                                  "headers": headers or {}}
        if json_body is not None:
            # The server parses bodies strictly; an empty JSON body would be a 400, so always send one.
            kwargs["data"] = json.dumps(json_body).encode()
            kwargs["headers"]["Content-Type"] = "application/json"
        try:
            response = self._session.request(method, url, **kwargs)
        except requests.exceptions.RetryError as exc:
            raise ApiError(f"could not {action}: the API kept answering with errors ({_short(exc)})",
                           "try again later; check the Butterbase status page") from None
        except requests.exceptions.Timeout:
            raise ApiError(f"could not {action}: the API at {self._origin} did not answer in time",
                           "check api_url and try again") from None
        except requests.exceptions.ConnectionError:
            raise ApiError(f"could not {action}: no connection to {self._origin}",
                           "check api_url (and that the runner can reach it)") from None
        if 300 <= response.status_code < 400:
            where = _origin(response.headers.get("Location", "")) or "elsewhere"
            raise ApiError(f"could not {action}: api_url redirects to {where}",
                           "set api_url to the final API address; the key is never sent on redirects",
                           status=response.status_code)
        return response


def _origin(url: str) -> str:
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        return ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{parts.hostname.lower()}:{port}"


def _field(body: dict[str, Any], name: str, action: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise _unexpected(action, f"the answer has no '{name}'")
    return value


def _deployment(body: Any, action: str) -> Deployment:
    if not isinstance(body, dict) or not isinstance(body.get("id"), str) or not isinstance(body.get("status"), str):
        raise _unexpected(action, "a deployment without id or status")
    return Deployment.from_json(body)


def _unexpected(action: str, what: str) -> ApiError:
    return ApiError(f"could not {action}: unexpected answer from the API ({what})",
                    "check that api_url points at the Butterbase API; retry, and report it if it persists")


def _content_type(response: requests.Response) -> str:
    return response.headers.get("Content-Type", "no content type").split(";")[0] or "no content type"


def _short(exc: BaseException) -> str:
    text = str(exc)
    # urllib3 messages quote the request path; keep the reason only.
    if "Caused by" in text:
        text = text.split("Caused by", 1)[1].strip(" ()")
    return text[:200]


def parse_error_body(response: requests.Response) -> tuple[str | None, str]:
    """The code and message from either error envelope (nested object or flat string)."""
    try:
        body = response.json()
    except ValueError:
        return None, ""
    if not isinstance(body, dict):
        return None, ""
    error = body.get("error")
    if isinstance(error, dict):
        return (str(error["code"]) if error.get("code") else None), str(error.get("message") or "")
    if isinstance(error, str):
        return error, str(body.get("message") or "")
    return None, str(body.get("message") or "")


def _error_from(response: requests.Response, action: str, app_id: str) -> ApiError:
    """Map one failed answer to one line with the cause and the fix (contract §1, §2, §3, §12)."""
    status = response.status_code
    code, message = parse_error_body(response)
    said = f" ({code}: {message})" if code and message else (f" ({code})" if code else "")
    if code is None and not message and response.content:
        said = f" (HTTP {status}, {_content_type(response)} body, not the Butterbase error format)"
    lowered = message.lower()

    def fail(text: str, fix: str) -> ApiError:
        return ApiError(f"could not {action}: {text}{said}", fix, status=status, code=code)

    if status == 401:
        if code == "AUTH_INVALID_API_KEY":
            return fail("the API key was rejected", "put a current key (bb_sk_…) in the api_key secret; "
                        "keys that were revoked or expired stop working")
        return fail("the API did not accept the credentials",
                    "pass a Butterbase API key (bb_sk_…) in api_key, from a repository secret")
    if status == 402:
        return fail("the Butterbase account is soft-locked", "resolve billing in the Butterbase dashboard")
    if status == 403:
        return fail("access was refused", "check the account is not suspended and the key belongs to it")
    if status == 404:
        if "app" in lowered and "deployment" not in lowered and "job" not in lowered:
            return fail(f"app '{app_id}' was not found for this key",
                        "check app_id, and that the key belongs to the app's organisation")
        if "pending build job" in lowered:
            return fail("the build was already started (no pending build job)",
                        "do not start it twice; follow it with deployment_id instead")
        return fail("the deployment was not found",
                    "check deployment_id; it must belong to this app_id")
    if status == 400 and code == "VALIDATION_INVALID_INPUT":
        return fail("the server rejected a value", "check deployment_id is a UUID and the inputs are valid")
    if status == 400 and ("upload expired" in lowered or "upload url expired" in lowered):
        return fail("the upload window expired before the deployment was started",
                    "run the job again; the deploy must start within 15 minutes of being created")
    if status == 400 and "cannot start" in lowered:
        return fail("the deployment is no longer waiting to be started",
                    "it was started, cancelled or superseded already; run a new deploy")
    if status == 400 and "not found" in lowered:
        return fail("the deployment was not found", "check deployment_id; it must belong to this app_id")
    if status == 400 and "cannot cancel" in lowered:
        return fail("the deployment cannot be cancelled in its current status",
                    "only WAITING, UPLOADING and BUILDING deployments can be cancelled")
    if status == 409 and code == "STATE_PREREQUISITE_MISSING":
        return fail("the uploaded source zip is not in storage",
                    "run the job again; if it persists, the upload URL was rejected by storage")
    if status == 409 and code == "APP_PROVISIONING":
        return fail("the app is still being provisioned", "wait a minute and run the job again")
    if status == 409:
        return fail("the server reported a conflict", "another run may be deploying the same deployment; "
                    "serialise deploys with a workflow concurrency group")
    if status == 410:
        return fail("the app is being deleted", "deploy to another app_id")
    if status == 413:
        return fail("the upload is larger than the server accepts",
                    "make it smaller: ignore files in .butterbaseignore (source) or trim the output")
    if status == 429:
        return fail("rate limited by the API even after waiting as told",
                    "fewer parallel deploys to this app (use a concurrency group), then retry")
    if status == 503 and code == "EXTERNAL_CLOUDFLARE_ERROR":
        return fail("Edge SSR hosting is not configured on this Butterbase server",
                    "contact Butterbase support; the server lacks its Cloudflare settings")
    if status == 503 and code == "app_migrating":
        return fail("the app is being migrated", "run the job again in a few minutes")
    if status >= 500 and action == "start the build":
        return fail("the server failed to start the server-side build; this is a known Butterbase "
                    "server issue with from-source builds",
                    "build in your workflow and deploy the output with flow: prebuilt")
    if status >= 500:
        return fail(f"the API failed with HTTP {status}", "try again later; if it persists, contact Butterbase")
    return fail(f"the API answered HTTP {status}", "check the inputs; run with debug logging for details")


def iter_raw_chunks(response: requests.Response, size: int = 65536) -> Iterator[bytes]:
    """Yield bytes as they arrive (read1), so live log frames are not held back to fill a buffer."""
    raw = response.raw
    while True:
        chunk = raw.read1(size)
        if not chunk:
            return
        yield chunk
