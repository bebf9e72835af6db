"""The GitHub-native side of a run: one sticky PR comment per app, and a GitHub Deployment.

Nothing here can fail a deploy: every problem becomes one warning line, and the feature that
failed is switched off for the rest of the run (so a missing permission is reported once).

Inactivating older deployments on success: the success status is sent with `auto_inactive: true`,
GitHub's documented mechanism. GitHub applies it only to prior *non-transient, non-production*
deployments of the environment that had a `success` state, so preview (transient) and production
environments would keep stale "active" deployments; for those we also post `inactive` ourselves
to older deployments of the same environment whose latest status is `success`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from butterbase_edge_deploy.console import Console
from butterbase_edge_deploy.github_api import DEFAULT_API_URL, GitHubApi, GitHubApiError, valid_repository
from butterbase_edge_deploy.report import RunReport

COMMENT_EVENTS = ("pull_request", "pull_request_target")
MARKER = "<!-- butterbase-edge-deploy:{app_id} -->"
LOG_LINES = 30
MAX_LOG_LINE = 400
MAX_TEXT = 2000
MAX_DESCRIPTION = 140
MAX_OLDER_DEPLOYMENTS = 30

# Butterbase status -> GitHub deployment state. CANCELED and SUPERSEDED mean "nothing from this
# run is live", which GitHub calls inactive; TIMEOUT is unknown (it may still finish), so error.
DEPLOYMENT_STATES = {"READY": "success", "ERROR": "failure", "CANCELED": "inactive",
                     "SUPERSEDED": "inactive", "DRY_RUN": "inactive", "TIMEOUT": "error"}
HEADLINES = {
    "": "⏳ {app}: building…",
    "READY": "✅ {app}: ready",
    "ERROR": "❌ {app}: failed",
    "CANCELED": "⚪ {app}: cancelled",
    "SUPERSEDED": "⏭️ {app}: superseded by a newer deploy",
    "TIMEOUT": "⌛ {app}: not finished within the timeout",
    "DRY_RUN": "🧪 {app}: dry run, nothing deployed",
}

COMMENT = "comment"
DEPLOYMENT = "deployment"
_PERMISSION_HINTS = {
    COMMENT: ("cannot write the PR comment: the token lacks `pull-requests: write` (or this is a fork PR "
              "without secrets); add `permissions: pull-requests: write` to the job"),
    DEPLOYMENT: ("cannot create the GitHub deployment: the token lacks `deployments: write` (or this is a "
                 "fork PR, whose token is read-only); add `permissions: deployments: write` to the job"),
}
_WHAT = {COMMENT: "write the PR comment", DEPLOYMENT: "update the GitHub deployment"}
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_MENTION = re.compile(r"@(?=[A-Za-z0-9])")
_UNSAFE_IN_MARKER = re.compile(r"[^A-Za-z0-9_.-]")
_SHA = re.compile(r"[0-9a-fA-F]{7,64}")
_PLAIN_URL = re.compile(r"https?://[^\s<>()\[\]|`\"']+")


# -- where the run happens ------------------------------------------------------------------------

@dataclass(frozen=True)
class RunContext:
    repository: str
    event_name: str
    pr_number: int | None
    sha: str
    server_url: str
    run_id: str
    api_url: str

    @property
    def run_url(self) -> str:
        return f"{self.server_url}/{self.repository}/actions/runs/{self.run_id}" if self.run_id else ""

    @property
    def commit_url(self) -> str:
        return f"{self.server_url}/{self.repository}/commit/{self.sha}"

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], console: Console) -> RunContext | None:
        repository = environ.get("GITHUB_REPOSITORY", "").strip()
        if not valid_repository(repository):
            console.warning("github_token is set but GITHUB_REPOSITORY is missing or not owner/name; "
                            "the PR comment and the GitHub deployment are skipped")
            return None
        event_name = environ.get("GITHUB_EVENT_NAME", "").strip()
        pr_number, head_sha = None, ""
        if event_name in COMMENT_EVENTS:
            pr_number, head_sha = _pull_request(environ.get("GITHUB_EVENT_PATH", ""), console)
        sha = head_sha or environ.get("GITHUB_SHA", "").strip()
        run_id = environ.get("GITHUB_RUN_ID", "").strip()
        return cls(
            repository=repository,
            event_name=event_name,
            pr_number=pr_number,
            sha=sha if _SHA.fullmatch(sha) else "",
            server_url=(environ.get("GITHUB_SERVER_URL") or "https://github.com").rstrip("/"),
            run_id=run_id if run_id.isascii() and run_id.isdigit() else "",
            api_url=(environ.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/"),
        )


def _pull_request(event_path: str, console: Console) -> tuple[int | None, str]:
    """The PR number and head commit from the event payload (GITHUB_SHA is the merge commit)."""
    try:
        payload = json.loads(Path(event_path).read_text(encoding="utf-8")) if event_path else None
    except (OSError, ValueError) as exc:
        console.warning(f"cannot read the event payload GITHUB_EVENT_PATH ({type(exc).__name__}); "
                        "no PR comment is written")
        return None, ""
    pull_request = payload.get("pull_request") if isinstance(payload, dict) else None
    if not isinstance(pull_request, dict) or type(pull_request.get("number")) is not int:
        console.warning("the event payload has no pull_request.number; no PR comment is written")
        return None, ""
    head = pull_request.get("head")
    sha = head.get("sha") if isinstance(head, dict) else None
    return pull_request["number"], sha if isinstance(sha, str) else ""


# -- the comment's text ---------------------------------------------------------------------------

def marker(app_id: str) -> str:
    """The hidden first line that identifies an app's comment (app ids are app_[a-z0-9]+ already)."""
    return MARKER.format(app_id=_UNSAFE_IN_MARKER.sub("", app_id))


def comment_body(report: RunReport, *, app_id: str, context: RunContext, environment: str,
                 now: datetime) -> str:
    """Markdown for the sticky comment. Server text (URL, error, log) is escaped, never trusted."""
    status = report.status
    template = HEADLINES.get(status) or "❌ {app}: " + _text(status.lower())
    headline = template.replace("{app}", f"`{app_id}`", 1)
    rows = [
        ("Status", _text(status) if status else "BUILDING"),
        ("URL", _link(report.url)),
        ("Deployment", f"`{_code(report.deployment_id)}`" if report.deployment_id else ""),
        ("Environment", _text(environment)),
        ("Commit", f"[`{context.sha[:7]}`]({context.commit_url})" if context.sha else ""),
        ("Run", f"[{context.run_id}]({context.run_url})" if context.run_url else ""),
        ("Updated", now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")),
    ]
    lines = [marker(app_id), f"### {headline}", "", "| | |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows if value]
    if report.error:
        lines += ["", f"**Error:** {_text(report.error)}"]
        if report.fix:
            lines += ["", f"**Fix:** {_text(report.fix)}"]
    if report.log_tail and status != "READY":
        lines += ["", "<details><summary>Last lines of the build log</summary>", "", "```text",
                  *(_log_line(line) for line in report.log_tail[-LOG_LINES:]), "```", "", "</details>"]
    return "\n".join(lines) + "\n"


def _text(value: str) -> str:
    """Server text inline: one line, no Markdown or HTML, no @mentions."""
    flat = " ".join(_CONTROL.sub(" ", _ANSI.sub("", value)).split())[:MAX_TEXT]
    flat = flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MENTION.sub("@\u200b", _MARKDOWN_SPECIAL.sub(r"\\\1", flat))


def _code(value: str) -> str:
    """Server text inside a code span, where Markdown and HTML are not interpreted."""
    return " ".join(_CONTROL.sub(" ", value).split())[:MAX_TEXT].replace("`", "'")


def _link(url: str) -> str:
    return url if _PLAIN_URL.fullmatch(url) else _text(url)


def _log_line(line: str) -> str:
    clean = _CONTROL.sub("", _ANSI.sub("", line.replace("\r", "")))[:MAX_LOG_LINE]
    return clean.replace("```", "ˋˋˋ").replace("~~~", "˜˜˜")


# -- the two features -----------------------------------------------------------------------------

class StickyComment:
    """One comment per app and PR, found by its marker, created once, then edited."""

    def __init__(self, api: GitHubApi, repo: str, number: int, app_id: str) -> None:
        self._api, self._repo, self._number = api, repo, number
        self._marker = marker(app_id)
        self.comment_id: int | None = None

    def write(self, body: str) -> None:
        if self.comment_id is None:
            self.comment_id = self._find()
        if self.comment_id is None:
            self._create(body)
            return
        try:
            self._api.update_issue_comment(self._repo, self.comment_id, body)
        except GitHubApiError as exc:
            if exc.status != 404:
                raise
            self._create(body)  # deleted while we ran

    def _find(self) -> int | None:
        for comment in self._api.list_issue_comments(self._repo, self._number):
            if str(comment.get("body") or "").startswith(self._marker) and type(comment.get("id")) is int:
                return int(comment["id"])
        return None

    def _create(self, body: str) -> None:
        created = self._api.create_issue_comment(self._repo, self._number, body)
        comment_id = created.get("id")
        if type(comment_id) is not int:
            raise GitHubApiError("POST", "issue comment", "the answer has no comment id")
        self.comment_id = comment_id


class DeploymentTracker:
    """A GitHub Deployment for this run: created in_progress, then success/failure/error/inactive."""

    def __init__(self, api: GitHubApi, context: RunContext, *, app_id: str, environment: str,
                 production: bool) -> None:
        self._api, self._context = api, context
        self._app_id, self._environment, self._production = app_id, environment, production
        self.deployment_id: int | None = None

    def start(self) -> None:
        created = self._api.create_deployment(self._context.repository, {
            "ref": self._context.sha,
            "environment": self._environment,
            "auto_merge": False,
            "required_contexts": [],
            "transient_environment": not self._production,
            "production_environment": self._production,
            "description": f"Butterbase Edge SSR deploy of {self._app_id}"[:MAX_DESCRIPTION],
        })
        deployment_id = created.get("id")
        if type(deployment_id) is not int:  # 202: GitHub merged instead of deploying (auto_merge is off)
            raise GitHubApiError("POST", "deployments", f"no deployment was created: {created.get('message', '')}")
        self.deployment_id = deployment_id
        self._status("in_progress", f"Deploying {self._app_id} to Butterbase")

    def finish(self, report: RunReport, redact: Callable[[str], str]) -> bool:
        """Post the final state; True when it is a success (the caller then inactivates older ones)."""
        if self.deployment_id is None:
            self.start()
        state = DEPLOYMENT_STATES.get(report.status, "error")
        if state == "success":
            self._status("success", "Ready", environment_url=report.url, auto_inactive=True)
            return True
        reason = report.error or (report.status.lower() if report.status else "ended without a result")
        self._status(state, redact(" ".join(reason.split())))
        return False

    def inactivate_older(self) -> int:
        """Mark older still-successful deployments of the environment inactive; stop at the first
        one already inactive (earlier runs handled everything before it). Returns how many."""
        assert self.deployment_id is not None
        repo, done = self._context.repository, 0
        for index, deployment in enumerate(self._api.list_deployments(repo, self._environment)):
            if index >= MAX_OLDER_DEPLOYMENTS:
                break
            older = deployment.get("id")
            if type(older) is not int or older >= self.deployment_id:
                continue
            latest = self._api.latest_deployment_status(repo, older)
            state = latest.get("state") if latest else None
            if state == "inactive":
                break
            if state == "success":
                self._api.create_deployment_status(repo, older, {
                    "state": "inactive", "description": f"Replaced by deployment {self.deployment_id}"})
                done += 1
        return done

    def _status(self, state: str, description: str, **extra: Any) -> None:
        assert self.deployment_id is not None
        fields: dict[str, Any] = {"state": state, "description": description[:MAX_DESCRIPTION], **extra}
        if self._context.run_url:
            fields["log_url"] = self._context.run_url
        self._api.create_deployment_status(self._context.repository, self.deployment_id, fields)


# -- the interface action.py uses -----------------------------------------------------------------

class GitHubIntegration:
    def __init__(self, api: GitHubApi, context: RunContext, *, app_id: str, environment: str, comment: bool,
                 production: bool, console: Console, clock: Callable[[], datetime] | None = None) -> None:
        self._api, self._context, self._console = api, context, console
        self._app_id, self._environment = app_id, environment
        self._clock = clock or (lambda: datetime.now(UTC))
        self._disabled: set[str] = set()
        self.comment: StickyComment | None = None
        self.deployment: DeploymentTracker | None = None
        if comment and context.event_name in COMMENT_EVENTS and context.pr_number is not None:
            self.comment = StickyComment(api, context.repository, context.pr_number, app_id)
        if environment:
            self.deployment = DeploymentTracker(api, context, app_id=app_id, environment=environment,
                                                production=production)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str], *, token: str, app_id: str, environment: str,
                         comment: bool, production: bool, console: Console) -> GitHubIntegration | None:
        """None when there is nothing to do: no token, no repository, or neither feature applies."""
        token = token.strip()
        if not token:
            return None
        context = RunContext.from_environ(environ, console)
        if context is None:
            return None
        environment = environment.strip()
        if environment and not context.sha:
            console.warning("GITHUB_SHA is not set, so no GitHub deployment can be created; it is skipped")
            environment = ""
        integration = cls(GitHubApi(token, context.api_url), context, app_id=app_id, environment=environment,
                          comment=comment, production=production, console=console)
        if integration.comment is None and integration.deployment is None:
            integration.close()
            return None
        console.add_secrets([token])
        return integration

    def started(self, report: RunReport) -> None:
        """Sticky comment "building…"; the GitHub Deployment created and set in_progress."""
        if self.comment is not None:
            comment = self.comment
            self._attempt(COMMENT, lambda: comment.write(self._body(report)))
        if self.deployment is not None:
            self._attempt(DEPLOYMENT, self.deployment.start)

    def finished(self, report: RunReport) -> None:
        """The comment and the deployment status show the result. Never raises."""
        shown = report
        if not report.status:  # ended before any result was known
            shown = replace(report, status="ERROR", error=report.error or "the run ended without a result")
        try:
            if self.comment is not None:
                comment = self.comment
                self._attempt(COMMENT, lambda: comment.write(self._body(shown)))
            if self.deployment is not None:
                self._finish_deployment(self.deployment, report)
        finally:
            self.close()

    def close(self) -> None:
        self._api.close()

    def _finish_deployment(self, deployment: DeploymentTracker, report: RunReport) -> None:
        succeeded: list[bool] = []
        self._attempt(DEPLOYMENT, lambda: succeeded.append(deployment.finish(report, self._console.redact)))
        if succeeded == [True]:
            self._attempt("inactivate", deployment.inactivate_older,
                          what="mark older GitHub deployments of this environment inactive")

    def _body(self, report: RunReport) -> str:
        body = comment_body(report, app_id=self._app_id, context=self._context, environment=self._environment,
                            now=self._clock())
        return self._console.redact(body)  # the build log may print user_env values

    def _attempt(self, feature: str, action: Callable[[], object], *, what: str = "") -> None:
        if feature in self._disabled:
            return
        try:
            action()
        except GitHubApiError as exc:
            self._disabled.add(feature)
            self._console.warning(self._explain(feature, exc, what or _WHAT.get(feature, feature)))
        except Exception as exc:  # a bug of ours must not fail the deploy either
            self._disabled.add(feature)
            self._console.warning(f"cannot {what or _WHAT.get(feature, feature)}: internal error "
                                  f"{type(exc).__name__}: {exc}; the deploy itself is unaffected")

    def _explain(self, feature: str, exc: GitHubApiError, what: str) -> str:
        detail = f" (GitHub: {exc.detail})"
        if exc.permission_denied and feature in _PERMISSION_HINTS:
            return _PERMISSION_HINTS[feature] + detail
        if exc.status == 401:
            return (f"cannot {what}: GitHub rejected github_token{detail}; pass "
                    "`github_token: ${{ secrets.GITHUB_TOKEN }}` or a valid token")
        if exc.rate_limited:
            return f"cannot {what}: the GitHub API rate limit is used up{detail}; it resets within the hour"
        return f"cannot {what}: {exc}; the deploy itself is unaffected"
