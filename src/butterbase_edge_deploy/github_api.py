"""A small client for the handful of GitHub REST routes the Action uses (issue comments, deployments).

- Base URL from GITHUB_API_URL (GitHub Enterprise Server: https://HOST/api/v3), default api.github.com.
- Token auth (`Authorization: Bearer`), `Accept: application/vnd.github+json`, API version 2022-11-28.
- The token lives only in the session's headers: it is not in repr(), in errors or in any message.
- Pagination follows `Link: rel="next"`, but only to the API's own origin, so the token is never
  sent to a host named by a response.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from butterbase_edge_deploy import __version__

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
MEDIA_TYPE = "application/vnd.github+json"
PER_PAGE = 100
MAX_PAGES = 30
_TIMEOUT = (5, 15)
_REPOSITORY = re.compile(r"[A-Za-z0-9-]+/(?!\.\.?\Z)[A-Za-z0-9_.-]+")


class GitHubApiError(Exception):
    """A GitHub call that did not succeed. The message never holds the token or request headers."""

    def __init__(self, method: str, path: str, message: str, *, status: int | None = None,
                 rate_limited: bool = False) -> None:
        super().__init__(f"{method} {path}: {message}")
        self.method = method
        self.path = path
        self.status = status
        self.detail = message
        self.rate_limited = rate_limited

    @property
    def permission_denied(self) -> bool:
        """403/404: the token cannot do this (GitHub answers 404 where the token may not even look)."""
        return self.status in (403, 404) and not self.rate_limited


def _retry() -> Retry:
    # Only reads are repeated: a repeated POST could create a second comment or deployment.
    return Retry(total=2, connect=2, read=1, status=2, backoff_factor=0.5,
                 status_forcelist=(502, 503, 504), allowed_methods=frozenset({"GET"}),
                 respect_retry_after_header=True, raise_on_status=False)


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_url: str | None


class GitHubApi:
    def __init__(self, token: str, api_url: str = DEFAULT_API_URL, *,
                 timeout: tuple[float, float] = _TIMEOUT) -> None:
        self.api_url = (api_url or DEFAULT_API_URL).rstrip("/")
        self._origin = _origin(self.api_url)
        self._timeout = timeout
        self._session = requests.Session()
        self._session.headers.update({
            "Authorization": f"Bearer {token}",
            "Accept": MEDIA_TYPE,
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": f"butterbase-edge-deploy/{__version__}",
        })
        adapter = HTTPAdapter(max_retries=_retry())
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    def __repr__(self) -> str:
        return f"GitHubApi({self.api_url!r})"

    def close(self) -> None:
        self._session.close()

    # -- issue comments (a pull request is an issue) ---------------------------------------------

    def list_issue_comments(self, repo: str, number: int) -> Iterator[dict[str, Any]]:
        return self.paginate(f"/repos/{_repo(repo)}/issues/{int(number)}/comments")

    def create_issue_comment(self, repo: str, number: int, body: str) -> dict[str, Any]:
        return self.call("POST", f"/repos/{_repo(repo)}/issues/{int(number)}/comments", {"body": body})

    def update_issue_comment(self, repo: str, comment_id: int, body: str) -> dict[str, Any]:
        return self.call("PATCH", f"/repos/{_repo(repo)}/issues/comments/{int(comment_id)}", {"body": body})

    # -- deployments ------------------------------------------------------------------------------

    def create_deployment(self, repo: str, fields: dict[str, Any]) -> dict[str, Any]:
        return self.call("POST", f"/repos/{_repo(repo)}/deployments", fields)

    def create_deployment_status(self, repo: str, deployment_id: int, fields: dict[str, Any]) -> dict[str, Any]:
        return self.call("POST", f"/repos/{_repo(repo)}/deployments/{int(deployment_id)}/statuses", fields)

    def list_deployments(self, repo: str, environment: str) -> Iterator[dict[str, Any]]:
        """Newest first, as GitHub lists them."""
        return self.paginate(f"/repos/{_repo(repo)}/deployments", {"environment": environment})

    def latest_deployment_status(self, repo: str, deployment_id: int) -> dict[str, Any] | None:
        page = self.page(f"/repos/{_repo(repo)}/deployments/{int(deployment_id)}/statuses",
                         {"per_page": 1})
        return page.items[0] if page.items else None

    # -- plumbing ---------------------------------------------------------------------------------

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self._send(method, self.api_url + path, path, json=body)
        data = _json(response, method, path)
        if not isinstance(data, dict):
            raise GitHubApiError(method, path, "the answer is not a JSON object", status=response.status_code)
        return data

    def paginate(self, path: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        page = self.page(path, {**(params or {}), "per_page": PER_PAGE})
        yield from page.items
        for _ in range(MAX_PAGES - 1):
            if page.next_url is None:
                return
            page = self._page_at(page.next_url, path)
            yield from page.items

    def page(self, path: str, params: dict[str, Any]) -> Page:
        response = self._send("GET", self.api_url + path, path, params=params)
        return self._as_page(response, path)

    def _page_at(self, url: str, path: str) -> Page:
        if _origin(url) != self._origin:
            raise GitHubApiError("GET", path, "the next page is on another host; not followed (the token "
                                 "is only sent to GITHUB_API_URL)")
        return self._as_page(self._send("GET", url, path), path)

    def _as_page(self, response: requests.Response, path: str) -> Page:
        data = _json(response, "GET", path)
        if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
            raise GitHubApiError("GET", path, "the answer is not a JSON list of objects", status=response.status_code)
        next_url = response.links.get("next", {}).get("url")
        return Page(data, next_url or None)

    def _send(self, method: str, url: str, path: str, **kwargs: Any) -> requests.Response:
        try:
            return self._session.request(method, url, timeout=self._timeout, allow_redirects=False, **kwargs)
        except requests.RequestException as exc:
            raise GitHubApiError(method, path, f"cannot reach {self._origin} ({type(exc).__name__})") from None


def _json(response: requests.Response, method: str, path: str) -> Any:
    if not 200 <= response.status_code < 300:
        raise _error_from(response, method, path)
    try:
        return response.json()
    except ValueError:
        raise GitHubApiError(method, path, "the answer is not JSON", status=response.status_code) from None


def _error_from(response: requests.Response, method: str, path: str) -> GitHubApiError:
    message = ""
    try:
        body = response.json()
        if isinstance(body, dict):
            message = str(body.get("message") or "")
    except ValueError:
        pass
    message = " ".join(message.split())[:200] or response.reason or "no message"
    rate_limited = response.status_code in (403, 429) and (
        response.headers.get("x-ratelimit-remaining") == "0" or "rate limit" in message.lower())
    return GitHubApiError(method, path, f"HTTP {response.status_code}: {message}",
                          status=response.status_code, rate_limited=rate_limited)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _repo(repo: str) -> str:
    if not _REPOSITORY.fullmatch(repo):
        raise GitHubApiError("-", "-", f"'{repo[:80]}' is not an owner/name repository")
    return repo


def valid_repository(repo: str) -> bool:
    return bool(_REPOSITORY.fullmatch(repo))
