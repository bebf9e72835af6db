"""The GitHub Actions edge: inputs from INPUT_* variables, outputs to $GITHUB_OUTPUT, the job summary.

`python entrypoint.py` runs this, in the container or anywhere the runner's variables are set.
"""

from __future__ import annotations

import os
from pathlib import Path

from actions_toolkit import core

from butterbase_edge_deploy import summary
from butterbase_edge_deploy.console import Console
from butterbase_edge_deploy.errors import InputError
from butterbase_edge_deploy.github_integration import GitHubIntegration
from butterbase_edge_deploy.report import RunReport
from butterbase_edge_deploy.runner import run_pipeline
from butterbase_edge_deploy.settings import load, raw_secrets

INPUT_NAMES = ("api_key", "api_url", "app_id", "flow", "framework", "working_directory", "output_dir",
               "build_command", "package_manager", "user_env", "deployment_id", "timeout", "dry_run", "fail_on",
               "github_token", "comment", "environment", "production")


def read_inputs(environ: dict[str, str] | os._Environ[str]) -> dict[str, str]:
    """Inputs as the runner passes them: INPUT_ + the name upper-cased, spaces as underscores."""
    values = {}
    for name in INPUT_NAMES:
        value = environ.get("INPUT_" + name.replace(" ", "_").upper())
        if value is not None:
            values[name] = value
    return values


def main() -> int:
    console = Console(github=os.environ.get("GITHUB_ACTIONS") == "true")
    raw = read_inputs(os.environ)
    console.add_secrets(raw_secrets(raw))
    report = RunReport(app_id=raw.get("app_id", "").strip())
    github: GitHubIntegration | None = None
    code = 1
    try:
        workspace = Path(os.environ.get("GITHUB_WORKSPACE") or os.getcwd())
        try:
            settings = load(raw, workspace=workspace, confine_to_workspace=True)
        except InputError as exc:
            report.status, report.error, report.fix = "ERROR", exc.message, exc.fix
            console.error(exc.one_line())
            return 1
        console.add_secrets(settings.secrets())
        if not settings.dry_run and settings.flow != "list":
            github = GitHubIntegration.from_environment(
                os.environ, token=settings.github_token, app_id=settings.app_id, environment=settings.environment,
                comment=settings.comment, production=settings.production, console=console)
        if github is not None:
            github.started(report)
        code = run_pipeline(settings, console, report)
        return code
    finally:
        write_outputs(report, console)  # first: a second cancel signal must not cost the outputs
        if github is not None:
            github.finished(report)


def write_outputs(report: RunReport, console: Console) -> None:
    try:
        if os.environ.get("GITHUB_OUTPUT"):
            for name, value in report.outputs().items():
                core.set_output(name, console.redact(value))
        if os.environ.get("GITHUB_STEP_SUMMARY"):
            with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as handle:
                handle.write(console.redact(summary.markdown(report)))
    except Exception as exc:  # the runner's files missing or unwritable: say so, in one line
        console.error(f"could not write the step outputs or summary: {exc}. Fix: run inside GitHub Actions, "
                      "or unset GITHUB_OUTPUT / GITHUB_STEP_SUMMARY")
