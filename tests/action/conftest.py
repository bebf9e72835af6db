from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.action_runner import ActionRun, run_action

WORKER = """export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/") return new Response("<h1>hello " + (request.headers.get("x-demo-marker") || "") + "</h1>",
      { headers: { "content-type": "text/html" } });
    return env.ASSETS.fetch(request);
  }
};
"""

BUILD_SCRIPT = """const fs = require('fs');
console.log('building with GREETING=' + (process.env.GREETING || ''));
for (let i = 0; i < 5; i++) console.log('step ' + i);
fs.mkdirSync('dist', { recursive: true });
fs.writeFileSync('dist/_worker.js', %s);
fs.writeFileSync('dist/hello.txt', 'hello from the build\\n');
console.log('done building');
"""


def make_prebuilt(workspace: Path, output_dir: str = ".vercel/output/static") -> Path:
    out = workspace / output_dir
    (out / "_worker.js").mkdir(parents=True)
    (out / "_worker.js" / "index.js").write_text(WORKER)
    (out / "hello.txt").write_text("hello static\n")
    (out / "_routes.json").write_text('{"version":1,"include":["/*"],"exclude":[]}')
    return out


def make_source(workspace: Path, build_js: str | None = None) -> Path:
    workspace.mkdir(parents=True, exist_ok=True)
    (workspace / "package.json").write_text(json.dumps(
        {"name": "hello", "version": "1.0.0", "private": True, "scripts": {"build": "node build.js"}}))
    (workspace / "package-lock.json").write_text(json.dumps(
        {"name": "hello", "version": "1.0.0", "lockfileVersion": 3, "requires": True,
         "packages": {"": {"name": "hello", "version": "1.0.0"}}}, indent=2) + "\n")
    (workspace / "build.js").write_text(build_js or BUILD_SCRIPT % json.dumps(WORKER))
    return workspace


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "workspace"
    path.mkdir()
    return path


@pytest.fixture
def act(emulator, workspace: Path, tmp_path: Path) -> Callable[..., ActionRun]:
    """Run the action against the shared emulator with its key and app, plus the given inputs."""
    emulator.reset()
    counter = iter(range(1000))

    def run(wait: float = 180, target=None, **inputs: str) -> ActionRun:
        server = target or emulator
        base = {"api_url": server.url, "api_key": server.api_key, "app_id": "app_demo", "timeout": "60"}
        base.update(inputs)
        return run_action(workspace, tmp_path / f"files{next(counter)}", wait=wait, **base)

    return run
