"""GitHubIntegration against the fake GitHub over real HTTP: the sticky PR comment, GitHub
Deployments, missing permissions and the token's secrecy."""

from __future__ import annotations

import io
import json
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fake_github import TOKEN, FakeGitHub
from workflow_commands import parse

from butterbase_edge_deploy.console import Console
from butterbase_edge_deploy.github_api import GitHubApi, GitHubApiError
from butterbase_edge_deploy.github_integration import GitHubIntegration, RunContext, comment_body, marker
from butterbase_edge_deploy.report import RunReport

REPO = "octo/shop"
PR = 7
HEAD_SHA = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
MERGE_SHA = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"
SERVER = "https://github.example"
RUN_ID = "4242"
RUN_URL = f"{SERVER}/{REPO}/actions/runs/{RUN_ID}"
URL = "https://app-demo.butterbase.dev"
DEPLOYMENT_ID = "0b7e8a9c-1111-4222-8333-944445555666"


# -- helpers --------------------------------------------------------------------------------------

def make_console() -> tuple[Console, io.StringIO]:
    stream = io.StringIO()
    return Console(stream, github=True), stream


def github_environ(fake: FakeGitHub, tmp_path: Path, *, event: str = "pull_request", pr: int | None = PR) -> dict:
    payload: dict = {"ref": "refs/heads/main"}
    if pr is not None:
        payload = {"action": "synchronize", "number": pr,
                   "pull_request": {"number": pr, "head": {"sha": HEAD_SHA, "ref": "feature"}}}
    event_path = tmp_path / f"event-{event}-{pr}.json"
    event_path.write_text(json.dumps(payload))
    return {"GITHUB_API_URL": fake.url, "GITHUB_REPOSITORY": REPO, "GITHUB_EVENT_NAME": event,
            "GITHUB_EVENT_PATH": str(event_path), "GITHUB_SHA": MERGE_SHA, "GITHUB_SERVER_URL": SERVER,
            "GITHUB_RUN_ID": RUN_ID}


def make(fake: FakeGitHub, tmp_path: Path, console: Console, *, app_id: str = "app_demo", environment: str = "",
         comment: bool = True, production: bool = False, event: str = "pull_request", pr: int | None = PR,
         token: str = TOKEN) -> GitHubIntegration | None:
    return GitHubIntegration.from_environment(
        github_environ(fake, tmp_path, event=event, pr=pr), token=token, app_id=app_id, environment=environment,
        comment=comment, production=production, console=console)


def ready(app_id: str = "app_demo", url: str = URL, deployment_id: str = DEPLOYMENT_ID) -> RunReport:
    return RunReport(app_id=app_id, status="READY", url=url, deployment_id=deployment_id, flow="prebuilt")


def failed(log_tail: list[str] | None = None) -> RunReport:
    return RunReport(app_id="app_demo", status="ERROR", deployment_id=DEPLOYMENT_ID, flow="source",
                     error="deployment 0b7e failed: BUILD_NONZERO_EXIT: the build command exited with 3",
                     fix="run the build locally with the same command", log_tail=log_tail or [])


def full_run(fake: FakeGitHub, tmp_path: Path, report: RunReport, **options) -> tuple[Console, io.StringIO]:
    console, stream = make_console()
    integration = make(fake, tmp_path, console, app_id=report.app_id or "app_demo", **options)
    assert integration is not None
    integration.started(RunReport(app_id=report.app_id))
    integration.finished(report)
    return console, stream


def warnings(stream: io.StringIO) -> list[str]:
    return [c.data for c in parse(stream.getvalue()) if c.name == "warning"]


def ours(fake: FakeGitHub, app_id: str = "app_demo") -> list[dict]:
    return [c for c in fake.comments(REPO, PR) if c["body"].startswith(marker(app_id))]


# -- the sticky comment ---------------------------------------------------------------------------

def test_first_run_creates_the_comment_building_then_ready(fake_github: FakeGitHub, tmp_path: Path) -> None:
    console, stream = make_console()
    integration = make(fake_github, tmp_path, console)
    assert integration is not None
    integration.started(RunReport(app_id="app_demo"))
    [building] = fake_github.comments(REPO, PR)
    assert building["body"].startswith("<!-- butterbase-edge-deploy:app_demo -->\n")
    assert "building…" in building["body"] and "| Status | BUILDING |" in building["body"]

    integration.finished(ready())
    [comment] = fake_github.comments(REPO, PR)
    assert comment["id"] == building["id"]
    body = comment["body"]
    assert "✅ `app_demo`: ready" in body
    assert f"| URL | {URL} |" in body
    assert f"| Deployment | `{DEPLOYMENT_ID}` |" in body
    assert f"[`{HEAD_SHA[:7]}`]({SERVER}/{REPO}/commit/{HEAD_SHA})" in body  # the PR head, not the merge commit
    assert MERGE_SHA[:7] not in body
    assert f"[{RUN_ID}]({RUN_URL})" in body
    assert " UTC |" in body
    assert [(r.method, r.status) for r in fake_github.requests] == [("GET", 200), ("POST", 201), ("PATCH", 200)]
    assert fake_github.calls("GET")[0].query["per_page"] == ["100"]
    assert warnings(stream) == []


def test_second_run_updates_the_same_comment(fake_github: FakeGitHub, tmp_path: Path) -> None:
    full_run(fake_github, tmp_path, ready(deployment_id="11111111-1111-4111-8111-111111111111"))
    first_id = ours(fake_github)[0]["id"]
    posts_before = len(fake_github.calls("POST"))
    full_run(fake_github, tmp_path, ready(url="https://second.butterbase.dev",
                                          deployment_id="22222222-2222-4222-8222-222222222222"))
    [comment] = fake_github.comments(REPO, PR)
    assert comment["id"] == first_id
    assert "https://second.butterbase.dev" in comment["body"]
    assert "11111111-1111" not in comment["body"]
    assert len(fake_github.calls("POST")) == posts_before  # no new comment on the second run
    assert len(fake_github.calls("PATCH")) == 3  # first run: ready; second run: building, ready


def test_two_apps_in_one_pr_keep_two_comments(fake_github: FakeGitHub, tmp_path: Path) -> None:
    full_run(fake_github, tmp_path, ready("app_demo", url="https://demo.example"))
    full_run(fake_github, tmp_path, ready("app_other", url="https://other.example"))
    full_run(fake_github, tmp_path, ready("app_demo", url="https://demo2.example"))
    comments = fake_github.comments(REPO, PR)
    assert len(comments) == 2
    [demo], [other] = ours(fake_github, "app_demo"), ours(fake_github, "app_other")
    assert "https://demo2.example" in demo["body"] and "https://demo.example" not in demo["body"]
    assert "https://other.example" in other["body"] and "app_demo" not in other["body"]


def test_comment_is_found_on_the_second_page(fake_github: FakeGitHub, tmp_path: Path) -> None:
    for index in range(130):
        fake_github.add_comment(REPO, PR, f"review note {index}")
    existing = fake_github.add_comment(REPO, PR, marker("app_demo") + "\nold preview", user={
        "login": "github-actions[bot]", "id": 41898282, "type": "Bot"})
    for index in range(5):
        fake_github.add_comment(REPO, PR, f"later note {index}")

    full_run(fake_github, tmp_path, ready())
    pages = [r.query.get("page", ["1"])[0] for r in fake_github.calls("GET", r"/issues/7/comments$")]
    assert pages == ["1", "2"]  # followed Link rel="next" once, found it, stopped
    assert fake_github.calls("POST") == []
    assert len(fake_github.comments(REPO, PR)) == 136
    [comment] = ours(fake_github)
    assert comment["id"] == existing["id"] and URL in comment["body"]
    assert all(c["body"].startswith(("review note", "later note")) for c in fake_github.comments(REPO, PR)
               if c["id"] != existing["id"])


def test_a_comment_that_only_quotes_the_marker_is_not_taken_over(fake_github: FakeGitHub, tmp_path: Path) -> None:
    quoted = fake_github.add_comment(REPO, PR, "why does the bot write " + marker("app_demo") + " ?")
    full_run(fake_github, tmp_path, ready())
    assert fake_github.comments(REPO, PR)[0]["body"] == quoted["body"]
    assert len(ours(fake_github)) == 1


def test_comment_deleted_during_the_run_is_written_again(fake_github: FakeGitHub, tmp_path: Path) -> None:
    console, stream = make_console()
    integration = make(fake_github, tmp_path, console)
    assert integration is not None
    integration.started(RunReport(app_id="app_demo"))
    fake_github.delete_comment(ours(fake_github)[0]["id"])
    integration.finished(ready())
    [comment] = fake_github.comments(REPO, PR)
    assert URL in comment["body"]
    assert warnings(stream) == []


def test_failure_comment_has_error_fix_and_an_escaped_log_tail(fake_github: FakeGitHub, tmp_path: Path) -> None:
    log = [f"step {i}" for i in range(40)] + [
        "```", "</details><img src=x onerror=alert(1)>", "\x1b[31mred\x1b[0m", "password=hunter2-secret"]
    console, _ = make_console()
    console.add_secrets(["hunter2-secret"])
    integration = make(fake_github, tmp_path, console)
    assert integration is not None
    report = failed(log)
    report.error += " <b>@octocat</b> | `x`"
    integration.finished(report)
    body = ours(fake_github)[0]["body"]
    assert "❌ `app_demo`: failed" in body
    assert "**Error:** deployment 0b7e failed: BUILD\\_NONZERO\\_EXIT" in body
    assert "&lt;b&gt;@\u200bocto" in body and "<b>" not in body and "\\|" in body  # no HTML, mention or cell
    assert "**Fix:** run the build locally with the same command" in body
    block = body.split("```text\n", 1)[1].split("\n```\n", 1)[0].split("\n")
    assert len(block) == 30 and block[0] == "step 14"  # the last 30 lines
    assert "ˋˋˋ" in block and "red" in block and "\x1b" not in body
    assert "password=***" in block and "hunter2" not in body  # known secrets never leave the runner
    assert body.count("```") == 2  # a log line cannot close the code block


def test_comment_body_never_formats_server_text_as_a_template() -> None:
    report = RunReport(app_id="app_demo", status="WEIRD_{app}_{0}")
    context_environ = {"GITHUB_REPOSITORY": REPO, "GITHUB_SHA": MERGE_SHA, "GITHUB_RUN_ID": RUN_ID}
    context = RunContext.from_environ(context_environ, make_console()[0])
    assert context is not None
    body = comment_body(report, app_id="app_demo", context=context, environment="",
                        now=datetime(2024, 5, 1, tzinfo=UTC))
    assert "❌ `app_demo`: weird\\_{app}\\_{0}" in body
    assert "| Updated | 2024-05-01 00:00:00 UTC |" in body


def test_push_event_writes_no_comment(fake_github: FakeGitHub, tmp_path: Path) -> None:
    console, _ = make_console()
    assert make(fake_github, tmp_path, console, event="push", pr=None) is None  # nothing to do
    integration = make(fake_github, tmp_path, console, event="push", pr=None, environment="production",
                       production=True)
    assert integration is not None and integration.comment is None
    integration.started(RunReport(app_id="app_demo"))
    integration.finished(ready())
    assert fake_github.calls("GET", "/comments") == [] and fake_github.calls("POST", "/comments") == []
    [deployment] = fake_github.deployments(REPO)
    assert deployment["ref"] == MERGE_SHA  # on push, GITHUB_SHA is the pushed commit


def test_no_token_or_comment_off_does_nothing(fake_github: FakeGitHub, tmp_path: Path) -> None:
    console, stream = make_console()
    assert make(fake_github, tmp_path, console, token="  ") is None
    assert make(fake_github, tmp_path, console, comment=False) is None
    assert fake_github.requests == [] and stream.getvalue() == ""


def test_pull_request_target_comments_too(fake_github: FakeGitHub, tmp_path: Path) -> None:
    full_run(fake_github, tmp_path, ready(), event="pull_request_target")
    assert len(ours(fake_github)) == 1


# -- missing permissions and other failures -------------------------------------------------------

@pytest.mark.parametrize(("method", "route", "status"), [
    ("POST", r"/issues/\d+/comments$", 403),
    ("GET", r"/issues/\d+/comments$", 403),
    ("GET", r"/issues/\d+/comments$", 404),  # fine-grained tokens without access get 404
])
def test_missing_comment_permission_is_one_warning_and_the_result_is_unaffected(
        fake_github: FakeGitHub, tmp_path: Path, method: str, route: str, status: int) -> None:
    fake_github.deny(method, route, status)
    console, stream = make_console()
    integration = make(fake_github, tmp_path, console, environment="preview-pr-7")
    assert integration is not None
    report = ready()
    before = asdict(report)
    integration.started(RunReport(app_id="app_demo"))
    integration.finished(report)
    assert asdict(report) == before
    [warning] = warnings(stream)
    assert warning.startswith("cannot write the PR comment: the token lacks `pull-requests: write` (or this is a "
                              "fork PR without secrets); add `permissions: pull-requests: write` to the job")
    assert f"HTTP {status}" in warning
    assert fake_github.comments(REPO, PR) == []
    assert len(fake_github.calls(method, route)) == 1  # given up after the first refusal
    [deployment] = fake_github.deployments(REPO)  # the other feature still works
    assert fake_github.states(deployment["id"]) == ["in_progress", "success"]


def test_missing_deployment_permission_is_one_warning(fake_github: FakeGitHub, tmp_path: Path) -> None:
    fake_github.deny("POST", r"/deployments$", 403)
    _, stream = full_run(fake_github, tmp_path, ready(), environment="preview-pr-7")
    [warning] = warnings(stream)
    assert "`deployments: write`" in warning and "add `permissions: deployments: write` to the job" in warning
    assert fake_github.deployments(REPO) == []
    assert len(ours(fake_github)) == 1


def test_rate_limit_and_server_errors_are_named_as_such(fake_github: FakeGitHub, tmp_path: Path) -> None:
    fake_github.deny("GET", r"/comments$", 403, message="API rate limit exceeded for installation",
                     headers={"X-RateLimit-Remaining": "0"})
    fake_github.deny("POST", r"/deployments$", 500, message="Server Error")
    _, stream = full_run(fake_github, tmp_path, ready(), environment="staging")
    found = warnings(stream)
    assert len(found) == 2
    assert "rate limit is used up" in found[0] and "pull-requests" not in found[0]
    assert "HTTP 500: Server Error" in found[1] and "the deploy itself is unaffected" in found[1]


def test_unreachable_github_is_a_warning_not_an_exception(tmp_path: Path) -> None:
    fake = FakeGitHub().start()
    environ = github_environ(fake, tmp_path)
    fake.stop()  # nothing listens there any more
    console, stream = make_console()
    integration = GitHubIntegration.from_environment(environ, token=TOKEN, app_id="app_demo",
                                                     environment="preview", comment=True, production=False,
                                                     console=console)
    assert integration is not None
    integration.started(RunReport(app_id="app_demo"))
    integration.finished(ready())
    found = warnings(stream)
    assert len(found) == 2 and all("cannot reach http://127.0.0.1:" in w for w in found)


def test_bad_token_says_so(fake_github: FakeGitHub, tmp_path: Path) -> None:
    console, stream = make_console()
    integration = make(fake_github, tmp_path, console, token="ghp_wrongwrongwrong")
    assert integration is not None
    integration.started(RunReport(app_id="app_demo"))
    integration.finished(ready())
    [warning] = warnings(stream)
    assert "GitHub rejected github_token (GitHub: HTTP 401: Bad credentials)" in warning
    assert "ghp_wrong" not in stream.getvalue().replace("::add-mask::ghp_wrongwrongwrong", "")


def test_next_page_on_another_host_is_not_followed(fake_github: FakeGitHub, tmp_path: Path) -> None:
    with FakeGitHub() as elsewhere:
        fake_github.link_base = elsewhere.url.replace("127.0.0.1", "localhost")
        for index in range(120):
            fake_github.add_comment(REPO, PR, f"note {index}")
        _, stream = full_run(fake_github, tmp_path, ready())
        assert elsewhere.requests == []
    [warning] = warnings(stream)
    assert "the next page is on another host; not followed" in warning
    assert ours(fake_github) == []  # not knowing page 2, it must not create a duplicate


# -- GitHub Deployments ---------------------------------------------------------------------------

def test_deployment_lifecycle_for_a_preview(fake_github: FakeGitHub, tmp_path: Path) -> None:
    console, stream = make_console()
    integration = make(fake_github, tmp_path, console, environment="preview-pr-7")
    assert integration is not None
    integration.started(RunReport(app_id="app_demo"))
    [deployment] = fake_github.deployments(REPO)
    assert deployment["request"] == {
        "ref": HEAD_SHA, "environment": "preview-pr-7", "auto_merge": False, "required_contexts": [],
        "transient_environment": True, "production_environment": False,
        "description": "Butterbase Edge SSR deploy of app_demo"}
    assert fake_github.states(deployment["id"]) == ["in_progress"]
    assert fake_github.statuses(deployment["id"])[0]["log_url"] == RUN_URL

    integration.finished(ready())
    final = fake_github.statuses(deployment["id"])[-1]
    assert final["state"] == "success"
    assert final["environment_url"] == URL and final["log_url"] == RUN_URL
    assert final["request"]["auto_inactive"] is True
    assert warnings(stream) == []


def test_production_flags(fake_github: FakeGitHub, tmp_path: Path) -> None:
    full_run(fake_github, tmp_path, ready(), environment="production", production=True, event="push", pr=None)
    [deployment] = fake_github.deployments(REPO)
    assert deployment["request"]["transient_environment"] is False
    assert deployment["request"]["production_environment"] is True


@pytest.mark.parametrize(("status", "state"), [
    ("ERROR", "failure"), ("TIMEOUT", "error"), ("CANCELED", "inactive"), ("SUPERSEDED", "inactive"), ("", "error"),
])
def test_deployment_failure_states(fake_github: FakeGitHub, tmp_path: Path, status: str, state: str) -> None:
    report = failed()
    report.status = status
    report.error = f"it went wrong with {status or 'nothing'} " + "x" * 200
    full_run(fake_github, tmp_path, report, environment="preview-pr-7")
    [deployment] = fake_github.deployments(REPO)
    statuses = fake_github.statuses(deployment["id"])
    assert [s["state"] for s in statuses] == ["in_progress", state]
    assert statuses[-1]["description"].startswith(f"it went wrong with {status or 'nothing'}")
    assert len(statuses[-1]["description"]) == 140
    assert statuses[-1]["environment_url"] == ""


def test_failure_description_is_redacted(fake_github: FakeGitHub, tmp_path: Path) -> None:
    console, _ = make_console()
    console.add_secrets(["s3cr3t-build-value"])
    integration = make(fake_github, tmp_path, console, environment="preview-pr-7", comment=False)
    assert integration is not None
    report = failed()
    report.error = "build printed s3cr3t-build-value"
    integration.finished(report)
    [deployment] = fake_github.deployments(REPO)
    assert fake_github.statuses(deployment["id"])[-1]["description"] == "build printed ***"


@pytest.mark.parametrize(("environment", "production"), [("production", True), ("preview-pr-7", False)])
def test_success_makes_older_deployments_of_the_environment_inactive(
        fake_github: FakeGitHub, tmp_path: Path, environment: str, production: bool) -> None:
    # GitHub's auto_inactive (sent, and honoured by the fake) skips production and transient
    # deployments, i.e. all of ours: so the older success is made inactive by an explicit status.
    options = {"environment": environment, "production": production, "comment": False}
    full_run(fake_github, tmp_path, ready(url="https://one.example"), **options)
    full_run(fake_github, tmp_path, failed(), **options)
    full_run(fake_github, tmp_path, ready(url="https://three.example"), **options)
    first, second, third = fake_github.deployments(REPO)
    assert fake_github.states(first["id"]) == ["in_progress", "success", "inactive"]
    assert fake_github.states(second["id"]) == ["in_progress", "failure"]
    assert fake_github.states(third["id"]) == ["in_progress", "success"]
    posted = [r for r in fake_github.calls("POST", rf"/deployments/{first['id']}/statuses")
              if r.body["state"] == "inactive"]
    assert len(posted) == 1
    assert posted[0].body["description"] == f"Replaced by deployment {third['id']}"


def test_inactivation_stops_at_the_previous_clean_up(fake_github: FakeGitHub, tmp_path: Path) -> None:
    options = {"environment": "production", "production": True, "comment": False, "event": "push", "pr": None}
    for _ in range(4):
        full_run(fake_github, tmp_path, ready(), **options)
    ids = [d["id"] for d in fake_github.deployments(REPO)]
    assert [fake_github.states(i)[-1] for i in ids] == ["inactive", "inactive", "inactive", "success"]
    last_run = fake_github.calls("GET", r"/statuses$")[-2:]  # the fourth run read two latest statuses
    assert [r.path.split("/")[-2] for r in last_run] == [str(ids[2]), str(ids[1])]
    assert all(len(fake_github.calls("POST", rf"/deployments/{i}/statuses")) <= 3 for i in ids)


def test_inactivation_leaves_other_environments_alone(fake_github: FakeGitHub, tmp_path: Path) -> None:
    full_run(fake_github, tmp_path, ready(), environment="preview-pr-7", comment=False)
    full_run(fake_github, tmp_path, ready(), environment="preview-pr-8", comment=False)
    first, second = fake_github.deployments(REPO)
    assert fake_github.states(first["id"])[-1] == "success"
    assert fake_github.states(second["id"])[-1] == "success"


def test_deployment_without_started_is_created_at_the_end(fake_github: FakeGitHub, tmp_path: Path) -> None:
    console, _ = make_console()
    integration = make(fake_github, tmp_path, console, environment="preview-pr-7", comment=False)
    assert integration is not None
    integration.finished(ready())
    [deployment] = fake_github.deployments(REPO)
    assert fake_github.states(deployment["id"]) == ["in_progress", "success"]


# -- the token ------------------------------------------------------------------------------------

def test_the_token_is_sent_as_bearer_with_the_api_version_and_never_printed(
        fake_github: FakeGitHub, tmp_path: Path) -> None:
    fake_github.deny("POST", r"/comments$", 403, message=f"token {TOKEN} may not do this")
    fake_github.deny("POST", r"/statuses$", 422, message=f"echo {TOKEN}", times=1)
    console, stream = make_console()
    integration = make(fake_github, tmp_path, console, environment="preview-pr-7")
    assert integration is not None
    integration.started(RunReport(app_id="app_demo"))
    integration.finished(ready())
    assert fake_github.requests, "nothing was sent"
    for request in fake_github.requests:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.headers["x-github-api-version"] == "2022-11-28"
        assert request.headers["accept"] == "application/vnd.github+json"
    printed = [line for line in stream.getvalue().splitlines() if not line.startswith("::add-mask::")]
    assert len(warnings(stream)) == 2
    assert all("***" in warning for warning in warnings(stream))  # GitHub echoed it; we did not print it
    assert not any(TOKEN in line for line in printed)
    assert f"::add-mask::{TOKEN}" in stream.getvalue()  # registered with the runner, which hides it
    api = GitHubApi(TOKEN, fake_github.url)
    assert TOKEN not in repr(api)
    with pytest.raises(GitHubApiError) as raised:
        api.call("PATCH", f"/repos/{REPO}/issues/comments/1", {"body": "x"})
    assert raised.value.status == 404 and TOKEN not in str(raised.value)
    api.close()
