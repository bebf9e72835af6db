"""The command line: the same pipeline as the Action, outside GitHub.

    butterbase-edge-deploy deploy  [--flow auto|prebuilt|source] [--output-dir DIR] ...
    butterbase-edge-deploy list
    butterbase-edge-deploy status DEPLOYMENT_ID [--wait]
    butterbase-edge-deploy cancel DEPLOYMENT_ID
    butterbase-edge-deploy package [--flow prebuilt|source] --out FILE

The API key and URL come from BUTTERBASE_API_KEY / BUTTERBASE_API_URL (flags override them).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from butterbase_edge_deploy import __version__, prebuilt, source
from butterbase_edge_deploy.console import Console
from butterbase_edge_deploy.deploy import Pipeline
from butterbase_edge_deploy.errors import DeployError
from butterbase_edge_deploy.report import RunReport
from butterbase_edge_deploy.runner import run_pipeline
from butterbase_edge_deploy.settings import DEFAULT_API_URL, DEFAULT_OUTPUT_DIR, Settings, load


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="butterbase-edge-deploy",
                                     description="Deploy Edge SSR apps to Butterbase.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(sub: argparse.ArgumentParser, *, credentials: bool = True) -> None:
        if credentials:
            sub.add_argument("--api-url", default=os.environ.get("BUTTERBASE_API_URL", DEFAULT_API_URL),
                             help=f"API base URL (env BUTTERBASE_API_URL; default {DEFAULT_API_URL})")
            sub.add_argument("--api-key", default=None,
                             help="API key; prefer the BUTTERBASE_API_KEY environment variable")
            sub.add_argument("--app-id", default=os.environ.get("BUTTERBASE_APP_ID", ""),
                             help="Butterbase app id, app_… (env BUTTERBASE_APP_ID)")
        sub.add_argument("--json", action="store_true", help="print the result as JSON on stdout (log on stderr)")

    def project(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--working-directory", default=".", help="the app's folder (default: current folder)")
        sub.add_argument("--output-dir", default=DEFAULT_OUTPUT_DIR,
                         help="build output, relative to the working directory (default %(default)s)")

    deploy = commands.add_parser("deploy", help="package, upload, start and follow a deployment")
    common(deploy)
    project(deploy)
    deploy.add_argument("--flow", default="auto", choices=("auto", "prebuilt", "source"),
                        help="prebuilt: zip the output; source: build on Butterbase; auto (default): prebuilt "
                             "when the output holds _worker.js")
    deploy.add_argument("--framework", default="nextjs-edge",
                        help="nextjs-edge (default), remix-edge or other-edge")
    deploy.add_argument("--build-command", default="",
                        help="source flow: build command run on Butterbase (default npx @cloudflare/next-on-pages)")
    deploy.add_argument("--package-manager", default="", help="source flow: npm, pnpm or yarn (default: lockfile)")
    deploy.add_argument("--user-env", action="append", default=[], metavar="NAME=VALUE",
                        help="build-time variable for the server-side build (repeatable)")
    deploy.add_argument("--timeout", default="600", help="seconds to wait for the result (default %(default)s)")
    deploy.add_argument("--dry-run", action="store_true", help="package and validate only; send nothing")

    listing = commands.add_parser("list", help="the app's deployment history")
    common(listing)

    status = commands.add_parser("status", help="show (or follow) one deployment")
    common(status)
    status.add_argument("deployment_id")
    status.add_argument("--wait", action="store_true", help="follow it until it ends")
    status.add_argument("--timeout", default="600", help="with --wait: seconds to wait (default %(default)s)")

    cancel = commands.add_parser("cancel", help="ask Butterbase to cancel a deployment")
    common(cancel)
    cancel.add_argument("deployment_id")

    package = commands.add_parser("package", help="write the zip a deploy would upload")
    common(package, credentials=False)
    project(package)
    package.add_argument("--flow", default="prebuilt", choices=("prebuilt", "source"))
    package.add_argument("--out", required=True, help="where to write the zip")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    console = Console(sys.stderr if args.json else sys.stdout)
    report = RunReport()
    raw = _raw_inputs(args)
    console.add_secrets([raw.get("api_key", "")])
    try:
        settings = load(raw, workspace=Path.cwd(), confine_to_workspace=False,
                        need_credentials=args.command != "package")
    except DeployError as exc:
        console.error(exc.one_line())
        return 1
    console.add_secrets(settings.secrets())
    if args.command == "package":
        code = _package(settings, args, console, report)
    elif args.command == "cancel":
        code = run_pipeline(settings, console, report, action=lambda p: _cancel(p, args.deployment_id))
    elif args.command == "status" and not args.wait:
        code = run_pipeline(settings, console, report, action=lambda p: _status(p, args.deployment_id))
    else:
        code = run_pipeline(settings, console, report)
    if args.json:
        print(json.dumps({**report.outputs(), "deployments": report.deployments, "error": report.error}))
    return code


def _raw_inputs(args: argparse.Namespace) -> dict[str, str]:
    command = args.command
    raw: dict[str, str] = {"flow": {"list": "list", "status": "auto", "cancel": "auto"}.get(command, "auto")}
    if command != "package":
        raw.update(api_url=args.api_url, app_id=args.app_id,
                   api_key=args.api_key or os.environ.get("BUTTERBASE_API_KEY", ""))
    for name in ("working_directory", "output_dir", "framework", "build_command", "package_manager", "timeout"):
        value = getattr(args, name, None)
        if value is not None:
            raw[name] = str(value)
    if command in ("deploy", "package"):
        raw["flow"] = args.flow
    if command == "deploy":
        raw["user_env"] = "\n".join(args.user_env)
        raw["dry_run"] = "true" if args.dry_run else "false"
    if command == "status":
        raw["deployment_id"] = args.deployment_id
    return raw


def _package(settings: Settings, args: argparse.Namespace, console: Console, report: RunReport) -> int:
    out = Path(args.out)
    if out.is_dir():
        console.error(f"--out '{out}' is a folder. Fix: give the zip's file name, e.g. {out / 'deploy.zip'}")
        return 1
    try:
        with tempfile.TemporaryDirectory(prefix="butterbase-") as scratch:
            target = Path(scratch) / "package.zip"
            if settings.flow == "source":
                archive, _ = source.package(settings.working_directory, settings.output_dir, target)
            else:
                archive, _ = prebuilt.package(settings.output_path, settings.output_dir, target)
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(target, out)
    except DeployError as exc:
        console.error(exc.one_line())
        return 1
    report.file_count, report.zip_bytes = archive.file_count, archive.size
    console.info(f"Wrote {out}: {archive.file_count} files, {archive.size} bytes "
                 f"({archive.uncompressed_bytes} uncompressed)")
    return 0


def _status(pipeline: Pipeline, deployment_id: str) -> None:
    deployment = pipeline.client.get(deployment_id)
    report = pipeline.report
    report.deployment_id, report.status, report.url = deployment.id, deployment.status, deployment.url or ""
    pipeline.console.relay(f"{deployment.id}  {deployment.status}  {deployment.url or ''}"
                           f"{'  ' + deployment.error if deployment.error else ''}")


def _cancel(pipeline: Pipeline, deployment_id: str) -> None:
    status = pipeline.client.cancel(deployment_id)
    pipeline.report.deployment_id, pipeline.report.status = deployment_id, status
    pipeline.console.relay(f"{deployment_id}  {status}")
