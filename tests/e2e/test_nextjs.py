"""A real Next.js edge app, built by next-on-pages, deployed through both flows and served."""

from __future__ import annotations

import json
import re
import selectors
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from action_runner import action_env, read_github_output, run_action

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
BUILD_ENV = ("NEXT_TELEMETRY_DISABLED: '1'\nVERCEL_TELEMETRY_DISABLED: '1'\nWRANGLER_SEND_METRICS: 'false'\n"
             "CI: '1'\nCLOUDFLARE_CF_FETCH_ENABLED: 'false'\n")


def _get(url: str, marker: str = "") -> tuple[int, str, str]:
    request = urllib.request.Request(url, headers={"x-demo-marker": marker} if marker else {})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.headers.get("content-type", ""), response.read().decode()


def _check_site(url: str, marker: str) -> None:
    status, kind, html = _get(url + "/", marker)
    assert status == 200 and "text/html" in kind
    assert marker in html  # rendered on the server from the request header
    status, kind, body = _get(url + "/api/hello")
    assert status == 200 and "application/json" in kind and json.loads(body)["message"]
    status, _, text = _get(url + "/hello.txt")
    assert status == 200 and text.strip()


def test_flow_a_deploys_the_real_build_and_it_renders(nextjs_app: Path, serving_emulator, tmp_path: Path) -> None:
    run = run_action(nextjs_app, tmp_path / "files", api_url=serving_emulator.url, api_key=serving_emulator.api_key,
                     app_id="app_next", flow="prebuilt", timeout="120")
    assert run.code == 0, run.stdout + run.stderr
    assert run.outputs["status"] == "READY"
    _check_site(run.outputs["url"], "marker-flow-a-7421")


def _deploy_source_streaming(source: Path, emulator, files: Path) -> tuple[int, dict[str, str], list, float]:
    """Run the action and time each stdout line as it arrives, to see the log stream live."""
    files.mkdir(parents=True)
    (files / "output").write_text("")
    (files / "summary").write_text("")
    env = action_env(source, files, {
        "api_url": emulator.url, "api_key": emulator.api_key, "app_id": "app_nextsrc", "flow": "source",
        "user_env": BUILD_ENV, "timeout": "900"})
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, str(ROOT / "entrypoint.py")], cwd=source, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    lines: list[tuple[float, str]] = []
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = started + 900
    while time.monotonic() < deadline:
        if not selector.select(timeout=5):
            continue
        line = process.stdout.readline()
        if not line:
            break
        lines.append((time.monotonic() - started, line.rstrip("\n")))
    code = process.wait(timeout=30)
    return code, read_github_output((files / "output").read_text()), lines, time.monotonic() - started


def test_flow_b_builds_on_the_emulator_streams_live_and_reuses_the_cache(serving_emulator, tmp_path: Path) -> None:
    source = tmp_path / "app"
    shutil.copytree(ROOT / "examples/nextjs-edge", source,
                    ignore=shutil.ignore_patterns("node_modules", ".next", ".vercel"))
    code, outputs, lines, cold = _deploy_source_streaming(source, serving_emulator, tmp_path / "cold")
    text = "\n".join(line for _, line in lines)
    assert code == 0, text[-4000:]
    assert outputs["status"] == "READY"
    _check_site(outputs["url"], "marker-flow-b-5531")
    # live: the build's own output appeared long before the action finished
    build_line = next(t for t, line in lines if re.search(r"next-on-pages|Building|vercel build", line))
    assert build_line < cold - 10, f"log arrived at {build_line:.1f} s of {cold:.1f} s"
    assert "restoring node_modules cache" not in text

    code, outputs, lines, warm = _deploy_source_streaming(source, serving_emulator, tmp_path / "warm")
    text = "\n".join(line for _, line in lines)
    assert code == 0 and outputs["status"] == "READY", text[-4000:]
    assert "[runner] restoring node_modules cache" in text
    print(f"\nFlow B cold build {cold:.1f} s, with node_modules cache {warm:.1f} s")
    assert warm < cold
    _check_site(outputs["url"], "marker-flow-b-warm")
