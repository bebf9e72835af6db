"""The whole Action, run as the runner runs it, against the emulator and the fake GitHub: the PR
comment and the GitHub Deployment follow a real deploy, and never change its result.

The runner's GITHUB_* variables are added through `github_env` (action_runner.action_env drops
the caller's GITHUB_* variables, so that tests do not leak the host's into the action).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import action_runner
import pytest
from action_projects import make_prebuilt, make_source
from action_runner import ActionRun, run_action
from fake_github import TOKEN, FakeGitHub
from workflow_commands import parse

from butterbase_edge_deploy.github_integration import marker

REPO = "octo/shop"
PR = 12
HEAD_SHA = "0123456789abcdef0123456789abcdef01234567"
PUSH_SHA = "fedcba9876543210fedcba9876543210fedcba98"
RUN_ID = "987654"
SERVER = "https://github.example"
RUN_URL = f"{SERVER}/{REPO}/actions/runs/{RUN_ID}"
FAILING_BUILD = "console.log('compiling'); console.error('Type error: boom'); process.exit(3);"


@pytest.fixture
def github_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Variables added to the action's environment after action_env has built it."""
    extra: dict[str, str] = {}
    original = action_runner.action_env

    def with_github(workspace: Path, files: Path, inputs: dict[str, str]) -> dict[str, str]:
        return {**original(workspace, files, inputs), **extra}

    monkeypatch.setattr(action_runner, "action_env", with_github)
    yield extra


@pytest.fixture
def deploy(emulator, fake_github: FakeGitHub, workspace: Path, tmp_path: Path,
           github_env: dict[str, str]) -> Callable[..., ActionRun]:
    """Run the action for a `pull_request` (pr=number) or a `push` (pr=None) with a GitHub token."""
    emulator.reset()
    counter = iter(range(1000))

    def run(pr: int | None = PR, **inputs: str) -> ActionRun:
        index = next(counter)
        event = tmp_path / f"event{index}.json"
        if pr is None:
            event.write_text(json.dumps({"ref": "refs/heads/main", "after": PUSH_SHA}))
        else:
            event.write_text(json.dumps({"number": pr, "pull_request": {"number": pr, "head": {"sha": HEAD_SHA}}}))
        github_env.clear()
        github_env.update({
            "GITHUB_API_URL": fake_github.url, "GITHUB_SERVER_URL": SERVER, "GITHUB_REPOSITORY": REPO,
            "GITHUB_EVENT_NAME": "push" if pr is None else "pull_request", "GITHUB_EVENT_PATH": str(event),
            "GITHUB_SHA": PUSH_SHA if pr is None else "1111111111111111111111111111111111111111",
            "GITHUB_RUN_ID": RUN_ID, "GITHUB_REF": "refs/heads/main" if pr is None else f"refs/pull/{pr}/merge",
        })
        base = {"api_url": emulator.url, "api_key": emulator.api_key, "app_id": "app_demo", "timeout": "60",
                "github_token": TOKEN, "comment": "true", "environment": "", "production": "false"}
        return run_action(workspace, tmp_path / f"files{index}", **{**base, **inputs})

    return run


def _warnings(run: ActionRun) -> list[str]:
    return [c.data for c in parse(run.stdout) if c.name == "warning"]


def _assert_token_hidden(run: ActionRun) -> None:
    shown = [line for line in (run.stdout + run.stderr).splitlines() if not line.startswith("::add-mask::")]
    assert not any(TOKEN in line for line in shown)
    assert TOKEN not in run.summary and not any(TOKEN in value for value in run.outputs.values())


def _our_comments(fake: FakeGitHub, pr: int = PR) -> list[dict]:
    return [c for c in fake.comments(REPO, pr) if c["body"].startswith(marker("app_demo"))]


def test_pr_preview_writes_the_comment_and_a_deployment(deploy, fake_github: FakeGitHub, workspace: Path) -> None:
    make_prebuilt(workspace)
    run = deploy(flow="prebuilt", environment="preview-pr-12")
    assert run.code == 0, run.stdout + run.stderr
    assert run.outputs["status"] == "READY"
    url, deployment_id = run.outputs["url"], run.outputs["deployment_id"]

    [comment] = _our_comments(fake_github)
    assert "✅ `app_demo`: ready" in comment["body"]
    assert f"| URL | {url} |" in comment["body"] and f"`{deployment_id}`" in comment["body"]
    assert f"`{HEAD_SHA[:7]}`" in comment["body"] and RUN_URL in comment["body"]
    # it was written while building, then edited: one POST, then PATCH
    assert [r.method for r in fake_github.requests if "/comments" in r.path] == ["GET", "POST", "PATCH"]

    [github_deployment] = fake_github.deployments(REPO)
    assert github_deployment["ref"] == HEAD_SHA and github_deployment["environment"] == "preview-pr-12"
    assert github_deployment["transient_environment"] is True
    assert github_deployment["production_environment"] is False
    statuses = fake_github.statuses(github_deployment["id"])
    assert [s["state"] for s in statuses] == ["in_progress", "success"]
    assert statuses[-1]["environment_url"] == url and statuses[-1]["log_url"] == RUN_URL
    assert _warnings(run) == []
    _assert_token_hidden(run)


def test_a_second_run_edits_the_same_comment(deploy, fake_github: FakeGitHub, workspace: Path) -> None:
    make_prebuilt(workspace)
    first = deploy(flow="prebuilt")
    second = deploy(flow="prebuilt")
    assert first.code == 0 and second.code == 0, second.stdout
    [comment] = fake_github.comments(REPO, PR)
    assert second.outputs["deployment_id"] in comment["body"]
    assert first.outputs["deployment_id"] not in comment["body"]
    assert len(fake_github.calls("POST", r"/comments$")) == 1


def test_missing_permission_warns_and_the_deploy_still_succeeds(deploy, fake_github: FakeGitHub,
                                                                 workspace: Path) -> None:
    make_prebuilt(workspace)
    fake_github.deny("POST", r"/issues/\d+/comments$", 403)
    fake_github.deny("POST", r"/deployments$", 403)
    run = deploy(flow="prebuilt", environment="preview-pr-12")
    assert run.code == 0, run.stdout + run.stderr
    assert run.outputs["status"] == "READY" and run.outputs["url"]
    found = _warnings(run)
    assert len(found) == 2
    assert "add `permissions: pull-requests: write` to the job" in found[0]
    assert "add `permissions: deployments: write` to the job" in found[1]
    assert not [c for c in parse(run.stdout) if c.name == "error"]
    _assert_token_hidden(run)


def test_failed_build_shows_error_and_log_in_the_comment(deploy, fake_github: FakeGitHub, workspace: Path) -> None:
    make_source(workspace, build_js=FAILING_BUILD)
    run = deploy(flow="source", build_command="npm run build", output_dir="dist", environment="preview-pr-12")
    assert run.code == 1 and run.outputs["status"] == "ERROR"
    [comment] = _our_comments(fake_github)
    body = comment["body"]
    assert "❌ `app_demo`: failed" in body and "BUILD\\_NONZERO\\_EXIT" in body and "**Fix:**" in body
    log = body.split("```text\n", 1)[1].split("\n```", 1)[0]
    assert "Type error: boom" in log
    [github_deployment] = fake_github.deployments(REPO)
    assert fake_github.states(github_deployment["id"]) == ["in_progress", "failure"]


def test_release_on_push_makes_a_production_deployment_and_no_comment(deploy, fake_github: FakeGitHub,
                                                                      workspace: Path) -> None:
    make_prebuilt(workspace)
    first = deploy(pr=None, flow="prebuilt", environment="production", production="true")
    second = deploy(pr=None, flow="prebuilt", environment="production", production="true")
    assert first.code == 0 and second.code == 0, second.stdout + second.stderr
    assert [r for r in fake_github.requests if "/comments" in r.path] == []
    older, newer = fake_github.deployments(REPO)
    assert newer["ref"] == PUSH_SHA and newer["production_environment"] is True
    assert newer["transient_environment"] is False
    assert fake_github.states(newer["id"]) == ["in_progress", "success"]
    assert fake_github.states(older["id"])[-1] == "inactive"
    assert fake_github.statuses(newer["id"])[-1]["environment_url"] == second.outputs["url"]


def test_comment_false_and_no_environment_touch_nothing(deploy, fake_github: FakeGitHub, workspace: Path) -> None:
    make_prebuilt(workspace)
    run = deploy(flow="prebuilt", comment="false")
    assert run.code == 0 and run.outputs["status"] == "READY"
    assert fake_github.requests == []
