"""A fake of the few GitHub REST routes the Action uses, as a real threaded HTTP server on loopback.

Routes (shapes from GitHub's REST docs, API version 2022-11-28):
- GET   /repos/{owner}/{repo}/issues/{number}/comments        list, ascending id, paginated
- POST  /repos/{owner}/{repo}/issues/{number}/comments        {"body": str} -> 201
- PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}    {"body": str} -> 200
- POST  /repos/{owner}/{repo}/deployments                     {"ref": str, ...} -> 201
- GET   /repos/{owner}/{repo}/deployments                     newest first, ?environment= ?ref= ?sha= filters
- POST  /repos/{owner}/{repo}/deployments/{id}/statuses       {"state": ..., ...} -> 201, with auto_inactive
- GET   /repos/{owner}/{repo}/deployments/{id}/statuses       newest first, paginated

Every request must carry `Authorization: Bearer <token>` (else 401 "Bad credentials"), the API
version header and the GitHub media type. Bodies are checked field by field (required fields,
types, enums, and no unknown fields: stricter than GitHub, to catch typos); a bad body answers 422
and is also kept in `problems`, which tests assert is empty. `deny()` makes a route answer an error
(403 for a missing permission). Every request is recorded in `requests`.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

TOKEN = "ghs_FakeInstallationToken0123456789abcdef"
API_VERSION = "2022-11-28"
MEDIA_TYPE = "application/vnd.github+json"
DOCS = "https://docs.github.com/rest"
BOT = {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"}
STATUS_STATES = ("error", "failure", "inactive", "in_progress", "queued", "pending", "success")
_REPO = r"/repos/(?P<owner>[A-Za-z0-9-]+)/(?P<repo>[A-Za-z0-9_.-]+)"

# field -> (accepted types, required)
COMMENT_FIELDS: dict[str, tuple[tuple[type, ...], bool]] = {"body": ((str,), True)}
DEPLOYMENT_FIELDS: dict[str, tuple[tuple[type, ...], bool]] = {
    "ref": ((str,), True), "task": ((str,), False), "auto_merge": ((bool,), False),
    "required_contexts": ((list,), False), "payload": ((dict, str), False), "environment": ((str,), False),
    "description": ((str, type(None)), False), "transient_environment": ((bool,), False),
    "production_environment": ((bool,), False),
}
STATUS_FIELDS: dict[str, tuple[tuple[type, ...], bool]] = {
    "state": ((str,), True), "target_url": ((str,), False), "log_url": ((str,), False),
    "description": ((str,), False), "environment": ((str,), False), "environment_url": ((str,), False),
    "auto_inactive": ((bool,), False),
}


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    status: int = 0


@dataclass
class Denial:
    method: str
    pattern: re.Pattern[str]
    status: int
    message: str
    headers: dict[str, str]
    times: int | None


class Problem(Exception):
    def __init__(self, status: int, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.errors = status, message, errors or []


@dataclass
class _State:
    next_id: int = 1000
    comments: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)
    deployments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    statuses: dict[int, list[dict[str, Any]]] = field(default_factory=dict)


class FakeGitHub:
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.requests: list[Recorded] = []
        self.problems: list[str] = []
        self.link_base: str | None = None  # another origin for Link headers (to test they are not followed)
        self._state = _State()
        self._denials: list[Denial] = []
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., tuple[int, Any, dict[str, str]]]]] = [
            ("GET", re.compile(_REPO + r"/issues/(?P<number>\d+)/comments"), self._list_comments),
            ("POST", re.compile(_REPO + r"/issues/(?P<number>\d+)/comments"), self._create_comment),
            ("PATCH", re.compile(_REPO + r"/issues/comments/(?P<comment_id>\d+)"), self._update_comment),
            ("POST", re.compile(_REPO + r"/deployments"), self._create_deployment),
            ("GET", re.compile(_REPO + r"/deployments"), self._list_deployments),
            ("POST", re.compile(_REPO + r"/deployments/(?P<deployment_id>\d+)/statuses"), self._create_status),
            ("GET", re.compile(_REPO + r"/deployments/(?P<deployment_id>\d+)/statuses"), self._list_statuses),
        ]

    # -- lifecycle ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeGitHub:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-github", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- test controls -----------------------------------------------------------------------------

    def deny(self, method: str, path_pattern: str, status: int = 403,
             message: str = "Resource not accessible by integration", headers: dict[str, str] | None = None,
             times: int | None = None) -> None:
        """Answer `status` to METHOD on paths matching the regex (search), `times` times or always."""
        with self._lock:
            self._denials.append(Denial(method.upper(), re.compile(path_pattern), status, message,
                                        headers or {}, times))

    def add_comment(self, repo: str, number: int, body: str, user: dict[str, Any] | None = None) -> dict[str, Any]:
        with self._lock:
            return self._new_comment(repo, number, body, user or {"login": "someone", "id": 7, "type": "User"})

    def delete_comment(self, comment_id: int) -> None:
        with self._lock:
            for comments in self._state.comments.values():
                comments[:] = [c for c in comments if c["id"] != comment_id]

    def comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(c) for c in self._state.comments.get((repo, number), [])]

    def deployments(self, repo: str) -> list[dict[str, Any]]:
        """Oldest first."""
        with self._lock:
            return [dict(d) for d in self._state.deployments.get(repo, [])]

    def statuses(self, deployment_id: int) -> list[dict[str, Any]]:
        """Oldest first."""
        with self._lock:
            return [dict(s) for s in self._state.statuses.get(deployment_id, [])]

    def states(self, deployment_id: int) -> list[str]:
        return [s["state"] for s in self.statuses(deployment_id)]

    def calls(self, method: str, path_pattern: str = "") -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.method == method and re.search(path_pattern, r.path)]

    # -- dispatch ----------------------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, headers: dict[str, str], raw_body: bytes) -> tuple[int, Any, dict]:
        parts = urlsplit(raw_path)
        query = parse_qs(parts.query)
        with self._lock:
            record = Recorded(method, parts.path, query, headers, None)
            self.requests.append(record)
            try:
                self._check_headers(headers)
                record.body = self._body(method, headers, raw_body)
                denied = self._denied(method, parts.path)
                if denied is not None:
                    record.status = denied.status
                    return denied.status, {"message": denied.message, "documentation_url": DOCS}, denied.headers
                status, payload, extra = self._route(method, parts.path, query, record.body)
            except Problem as problem:
                if problem.status in (400, 422):
                    self.problems.append(f"{method} {parts.path}: {problem.message} {problem.errors}")
                status, extra = problem.status, {}
                payload = {"message": problem.message, "documentation_url": DOCS}
                if problem.errors:
                    payload["errors"] = problem.errors
            except Exception as exc:  # a bug in the fake: visible to the test, not a dropped connection
                self.problems.append(f"{method} {parts.path}: fake crashed: {type(exc).__name__}: {exc}")
                status, payload, extra = 500, {"message": "fake crashed"}, {}
            record.status = status
            return status, payload, extra

    def _check_headers(self, headers: dict[str, str]) -> None:
        if headers.get("authorization") != f"Bearer {self.token}":
            raise Problem(401, "Bad credentials")
        if headers.get("x-github-api-version") != API_VERSION:
            raise Problem(400, f"X-GitHub-Api-Version must be {API_VERSION}, got "
                          f"{headers.get('x-github-api-version')!r}")
        if MEDIA_TYPE not in headers.get("accept", ""):
            raise Problem(400, f"Accept must be {MEDIA_TYPE}, got {headers.get('accept')!r}")

    def _body(self, method: str, headers: dict[str, str], raw: bytes) -> Any:
        if method in ("GET", "DELETE"):
            if raw:
                raise Problem(400, f"{method} with a body")
            return None
        if not headers.get("content-type", "").startswith("application/json"):
            raise Problem(400, f"Content-Type must be application/json, got {headers.get('content-type')!r}")
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise Problem(400, "Problems parsing JSON") from None
        if not isinstance(body, dict):
            raise Problem(400, "Body should be a JSON object")
        return body

    def _denied(self, method: str, path: str) -> Denial | None:
        for denial in self._denials:
            if denial.method == method and denial.pattern.search(path) and denial.times != 0:
                if denial.times is not None:
                    denial.times -= 1
                return denial
        return None

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any, dict]:
        allowed = []
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if route_method == method:
                return handler(query=query, body=body, path=path, **match.groupdict())
            allowed.append(route_method)
        raise Problem(404 if not allowed else 405, "Not Found" if not allowed else "Method Not Allowed")

    # -- issue comments ----------------------------------------------------------------------------

    def _list_comments(self, *, owner: str, repo: str, number: str, query: dict, body: Any, path: str) -> tuple:
        items = self._state.comments.get((f"{owner}/{repo}", int(number)), [])
        return self._paginated(items, path, query)

    def _create_comment(self, *, owner: str, repo: str, number: str, query: dict, body: Any, path: str) -> tuple:
        _validate(body, COMMENT_FIELDS)
        return 201, self._new_comment(f"{owner}/{repo}", int(number), body["body"], BOT), {}

    def _update_comment(self, *, owner: str, repo: str, comment_id: str, query: dict, body: Any, path: str) -> tuple:
        _validate(body, COMMENT_FIELDS)
        for (repo_name, _), comments in self._state.comments.items():
            for comment in comments:
                if repo_name == f"{owner}/{repo}" and comment["id"] == int(comment_id):
                    comment["body"] = body["body"]
                    comment["updated_at"] = _now(self._state.next_id)
                    return 200, dict(comment), {}
        raise Problem(404, "Not Found")

    def _new_comment(self, repo: str, number: int, body: str, user: dict[str, Any]) -> dict[str, Any]:
        comment_id = self._take_id()
        comment = {"id": comment_id, "node_id": f"IC_{comment_id}", "body": body, "user": dict(user),
                   "html_url": f"https://github.com/{repo}/pull/{number}#issuecomment-{comment_id}",
                   "url": f"{self._base()}/repos/{repo}/issues/comments/{comment_id}",
                   "created_at": _now(comment_id), "updated_at": _now(comment_id)}
        self._state.comments.setdefault((repo, number), []).append(comment)
        return dict(comment)

    # -- deployments -------------------------------------------------------------------------------

    def _create_deployment(self, *, owner: str, repo: str, query: dict, body: Any, path: str) -> tuple:
        _validate(body, DEPLOYMENT_FIELDS)
        if not body["ref"]:
            raise Problem(422, "Validation Failed", [{"resource": "Deployment", "field": "ref", "code": "missing"}])
        contexts = body.get("required_contexts", [])
        if not all(isinstance(item, str) for item in contexts):
            raise Problem(422, "Validation Failed", [{"field": "required_contexts", "code": "invalid"}])
        full = f"{owner}/{repo}"
        deployment_id = self._take_id()
        deployment = {
            "id": deployment_id, "node_id": f"DE_{deployment_id}",
            "url": f"{self._base()}/repos/{full}/deployments/{deployment_id}",
            "sha": body["ref"], "ref": body["ref"], "task": body.get("task", "deploy"),
            "payload": body.get("payload", {}), "environment": body.get("environment", "production"),
            "original_environment": body.get("environment", "production"),
            "description": body.get("description") or "", "creator": BOT,
            "created_at": _now(deployment_id), "updated_at": _now(deployment_id),
            "statuses_url": f"{self._base()}/repos/{full}/deployments/{deployment_id}/statuses",
            "repository_url": f"{self._base()}/repos/{full}",
            "transient_environment": body.get("transient_environment", False),
            "production_environment": body.get("production_environment",
                                               body.get("environment", "production") == "production"),
            "request": dict(body),
        }
        self._state.deployments.setdefault(full, []).append(deployment)
        self._state.statuses[deployment_id] = []
        return 201, _public(deployment), {}

    def _list_deployments(self, *, owner: str, repo: str, query: dict, body: Any, path: str) -> tuple:
        rows = list(reversed(self._state.deployments.get(f"{owner}/{repo}", [])))
        for name in ("environment", "ref", "sha", "task"):
            if name in query:
                rows = [row for row in rows if row[name] == query[name][0]]
        return self._paginated([_public(row) for row in rows], path, query)

    def _create_status(self, *, owner: str, repo: str, deployment_id: str, query: dict, body: Any,
                       path: str) -> tuple:
        deployment = self._deployment(f"{owner}/{repo}", int(deployment_id))
        _validate(body, STATUS_FIELDS)
        if body["state"] not in STATUS_STATES:
            raise Problem(422, "Validation Failed", [{"field": "state", "code": "invalid", "value": body["state"]}])
        if len(body.get("description", "")) > 140:
            raise Problem(422, "Validation Failed", [{"field": "description", "code": "too_long"}])
        status = self._new_status(deployment, body)
        if body["state"] == "success" and body.get("auto_inactive", True):
            self._auto_inactivate(f"{owner}/{repo}", deployment)
        return 201, status, {}

    def _auto_inactivate(self, repo: str, current: dict[str, Any]) -> None:
        """GitHub's documented rule: prior non-transient, non-production deployments of the same
        environment that had a success state get an inactive status."""
        for older in self._state.deployments.get(repo, []):
            if (older["id"] >= current["id"] or older["environment"] != current["environment"]
                    or older["transient_environment"] or older["production_environment"]):
                continue
            history = [s["state"] for s in self._state.statuses[older["id"]]]
            if "success" in history and history[-1] != "inactive":
                self._new_status(older, {"state": "inactive", "description": ""})

    def _new_status(self, deployment: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        status_id = self._take_id()
        log_url = body.get("log_url", body.get("target_url", ""))
        status = {
            "id": status_id, "node_id": f"DES_{status_id}", "state": body["state"], "creator": BOT,
            "description": body.get("description", ""),
            "environment": body.get("environment", deployment["environment"]),
            "target_url": log_url, "log_url": log_url, "environment_url": body.get("environment_url", ""),
            "created_at": _now(status_id), "updated_at": _now(status_id),
            "deployment_url": deployment["url"], "repository_url": deployment["repository_url"],
            "request": dict(body),
        }
        self._state.statuses[deployment["id"]].append(status)
        return _public(status)

    def _list_statuses(self, *, owner: str, repo: str, deployment_id: str, query: dict, body: Any,
                       path: str) -> tuple:
        deployment = self._deployment(f"{owner}/{repo}", int(deployment_id))
        rows = [_public(s) for s in reversed(self._state.statuses[deployment["id"]])]
        return self._paginated(rows, path, query)

    def _deployment(self, repo: str, deployment_id: int) -> dict[str, Any]:
        for deployment in self._state.deployments.get(repo, []):
            if deployment["id"] == deployment_id:
                return deployment
        raise Problem(404, "Not Found")

    # -- helpers -----------------------------------------------------------------------------------

    def _paginated(self, items: list[dict[str, Any]], path: str, query: dict[str, list[str]]) -> tuple:
        per_page = _int_param(query, "per_page", 30)
        page = _int_param(query, "page", 1)
        if not 1 <= per_page <= 100 or page < 1:
            raise Problem(422, f"per_page must be 1..100 and page >= 1, got {per_page}, {page}")
        last = max(1, -(-len(items) // per_page))
        links = []
        flat = {name: values[0] for name, values in query.items()}
        for rel, number in (("prev", page - 1), ("next", page + 1), ("last", last), ("first", 1)):
            if (rel == "prev" and page > 1) or (rel == "next" and page < last) or (rel in ("last", "first")
                                                                                    and last > 1):
                url = f"{self.link_base or self._base()}{path}?{urlencode({**flat, 'page': number})}"
                links.append(f'<{url}>; rel="{rel}"')
        headers = {"Link": ", ".join(links)} if links else {}
        return 200, [dict(item) for item in items[(page - 1) * per_page: page * per_page]], headers

    def _take_id(self) -> int:
        self._state.next_id += 1
        return self._state.next_id

    def _base(self) -> str:
        return self.url


def _validate(body: dict[str, Any], fields: dict[str, tuple[tuple[type, ...], bool]]) -> None:
    errors = []
    for name, (types, required) in fields.items():
        if name not in body:
            if required:
                errors.append({"field": name, "code": "missing_field"})
            continue
        value = body[name]
        if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
            errors.append({"field": name, "code": "invalid", "message": f"{type(value).__name__} is not allowed"})
    errors += [{"field": name, "code": "unexpected"} for name in body if name not in fields]
    if errors:
        raise Problem(422, "Invalid request.", errors)


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if key != "request"}


def _int_param(query: dict[str, list[str]], name: str, default: int) -> int:
    try:
        return int(query.get(name, [str(default)])[0])
    except ValueError:
        raise Problem(422, f"{name} is not a number") from None


def _now(sequence: int) -> str:
    return f"2024-05-01T12:{(sequence // 60) % 60:02d}:{sequence % 60:02d}Z"


class _Handler(BaseHTTPRequestHandler):
    fake: FakeGitHub
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else every answer waits ~40 ms for a delayed ACK

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        status, payload, extra = self.fake.handle(self.command, self.path, headers, raw)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-GitHub-Api-Version-Selected", API_VERSION)
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def running(token: str = TOKEN) -> Iterator[FakeGitHub]:
    with FakeGitHub(token) as fake:
        yield fake
