"""`make demo`: start the local Butterbase emulator, deploy the bundled examples through both flows
the way a workflow would, list the history, fetch what each URL serves, and stop the emulator."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEY = "bb_sk_0123456789abcdef0123456789abcdef01234567"  # the emulator's documented dev key
APP = "app_demo"  # Flow A
SOURCE_APP = "app_source"  # Flow B: its own app, so that neither deploy supersedes the other


def start_emulator(state: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "butterbase_emulator", "--port", "0", "--api-key", KEY,
         "--app", APP, "--app", SOURCE_APP, "--state-dir", str(state)],
        stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        match = re.search(r"listening on (http://\S+)", line)
        if match:
            return process, match.group(1)
        if not line and process.poll() is not None:
            break
    raise SystemExit("the emulator did not start; run `butterbase-emulator` by hand to see why")


def read_github_output(text: str) -> dict[str, str]:
    """The runner's `name<<DELIMITER` ... `DELIMITER` format."""
    values: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        name, _, delimiter = line.partition("<<")
        body = []
        for inner in lines:
            if inner == delimiter:
                break
            body.append(inner)
        values[name] = "\n".join(body)
    return values


def banner(text: str) -> None:
    bold, plain = ("\033[1m", "\033[0m") if sys.stdout.isatty() else ("", "")
    print(f"\n{bold}--- {text}{plain}", flush=True)


def fetch(url: str, marker: str) -> str:
    request = urllib.request.Request(url, headers={"x-demo-marker": marker})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            body = response.read().decode("utf-8", "replace")
            return f"HTTP {response.status}, {len(body)} bytes"
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code}"


def text_of(url: str, marker: str) -> str:
    request = urllib.request.Request(url, headers={"x-demo-marker": marker})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.read().decode("utf-8", "replace")


def visible_text(html: str) -> str:
    html = re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", html)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="butterbase-demo-") as scratch:
        scratch_path = Path(scratch)
        emulator, api_url = start_emulator(scratch_path / "state")
        try:
            banner(f"Butterbase emulator on {api_url} (apps {APP}, {SOURCE_APP})")

            banner("Flow A: deploy the committed next-on-pages output, as the GitHub Action does")
            outputs = scratch_path / "github_output"
            outputs.touch()
            env = {**os.environ, "GITHUB_WORKSPACE": str(ROOT), "GITHUB_OUTPUT": str(outputs),
                   "INPUT_API_URL": api_url, "INPUT_API_KEY": KEY, "INPUT_APP_ID": APP,
                   "INPUT_WORKING_DIRECTORY": "examples/nextjs-edge", "INPUT_FLOW": "auto"}
            subprocess.run([sys.executable, str(ROOT / "entrypoint.py")], env=env, check=True)
            values = read_github_output(outputs.read_text())
            print(f"step outputs: url={values.get('url')} status={values.get('status')} "
                  f"deployment_id={values.get('deployment_id')}")
            nextjs_url = values.get("url", "")

            banner("Flow B: upload a small source project and build it on the emulator (command line)")
            cli = [sys.executable, "-m", "butterbase_edge_deploy"]
            cli_env = {**os.environ, "BUTTERBASE_API_KEY": KEY, "BUTTERBASE_API_URL": api_url,
                       "BUTTERBASE_APP_ID": SOURCE_APP}
            result = subprocess.run(
                [*cli, "deploy", "--json", "--flow", "source", "--working-directory", "examples/hello-source",
                 "--build-command", "npm run build", "--output-dir", "dist", "--user-env", "BUILD_LABEL=demo-build"],
                cwd=ROOT, env=cli_env, stdout=subprocess.PIPE, text=True, check=True)
            source_url = re.search(r'"url": "([^"]*)"', result.stdout).group(1)  # type: ignore[union-attr]

            banner("History")
            subprocess.run([*cli, "list"], cwd=ROOT, env=cli_env, check=True)
            subprocess.run([*cli, "list", "--app-id", APP], cwd=ROOT, env=cli_env, check=True)

            banner("What the URLs serve")
            for label, url in (("Flow A (Next.js)", nextjs_url), ("Flow B (source build)", source_url)):
                page = visible_text(text_of(url, "demo-marker-42"))
                shown = page if len(page) <= 160 else page[:159] + "…"
                print(f"{label}: GET {url} with x-demo-marker: demo-marker-42 -> {shown}")
            print(f"Flow A static asset: GET {nextjs_url}/hello.txt -> {fetch(nextjs_url + '/hello.txt', 'x')}")
            print(f"Flow A API route:    GET {nextjs_url}/api/hello -> {text_of(nextjs_url + '/api/hello', 'x')[:120]}")
        finally:
            os.killpg(emulator.pid, signal.SIGTERM)
            emulator.wait(timeout=20)
            banner("Emulator stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
