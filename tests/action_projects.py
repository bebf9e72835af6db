"""Small projects the Action tests deploy: a prebuilt Workers output and a source project."""

from __future__ import annotations

import json
from pathlib import Path

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
