"""Small source projects for from-source builds, and a helper that runs one build."""

from __future__ import annotations

import io
import json
import time
import zipfile
from dataclasses import dataclass
from typing import Any

from emulator.emulator_client import Api, log_text, parse_sse

PACKAGE_JSON = json.dumps({"name": "emulator-test-app", "version": "1.0.0", "private": True})

# One tiny real dependency, installed from the npm registry by a real `npm install`.
PACKAGE_JSON_WITH_DEP = json.dumps(
    {"name": "emulator-test-app", "version": "1.0.0", "private": True, "dependencies": {"is-number": "7.0.0"}}
)
PACKAGE_LOCK_WITH_DEP = json.dumps({
    "name": "emulator-test-app", "version": "1.0.0", "lockfileVersion": 3, "requires": True,
    "packages": {
        "": {"name": "emulator-test-app", "version": "1.0.0", "dependencies": {"is-number": "7.0.0"}},
        "node_modules/is-number": {
            "version": "7.0.0",
            "integrity": "sha512-41Cifkg6e8TylSpdtTpeLVMqvSBEVzTttHvERD741+pnZ8ANv0004MRL43QKPDlK9c"
                         "GvNp6NZWZUBlbGXYxxng==",
            "license": "MIT", "engines": {"node": ">=0.12.0"},
        },
    },
}, indent=2)

BUILD_WITH_DEP = """
const isNumber = require('is-number');
const fs = require('fs');
fs.mkdirSync('out', { recursive: true });
fs.writeFileSync('out/_worker.js',
  'export default { fetch() { return new Response("five is a number: ' + isNumber(5) + '") } }');
fs.writeFileSync('out/index.html', '<p>built from source</p>');
console.log('built with NODE_ENV=' + process.env.NODE_ENV + ' GREETING=' + process.env.GREETING);
"""

# A build command that needs no dependency: writes a worker into ./out.
WRITE_WORKER = "mkdir -p out && printf 'export default {}' > out/_worker.js && printf '<p>ok</p>' > out/index.html"


def project_zip(files: dict[str, str | bytes] | None = None, *, with_dep: bool = False) -> bytes:
    base: dict[str, str | bytes] = {"package.json": PACKAGE_JSON_WITH_DEP if with_dep else PACKAGE_JSON}
    if with_dep:
        base["package-lock.json"] = PACKAGE_LOCK_WITH_DEP
        base["build.js"] = BUILD_WITH_DEP
    base.update(files or {})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in base.items():
            zf.writestr(name, data)
    return buf.getvalue()


@dataclass
class Build:
    deployment_id: str
    build_id: str
    start_status: int
    start_body: dict[str, Any]
    raw_log: str = ""

    @property
    def events(self) -> list[tuple[str, str]]:
        return parse_sse(self.raw_log)

    @property
    def text(self) -> str:
        return log_text(self.events)


def start_build(api: Api, source: bytes, build_command: str = WRITE_WORKER, output_dir: str = "out",
                lockfile_hash: str = "0123abcd", **extra: Any) -> Build:
    created = api.create_source()
    assert created.status_code == 201, created.text
    body = created.json()
    put = api.upload(body["upload_url"], source)
    assert put.status_code == 200, put.text
    start = api.start_source(body["deployment_id"], {"buildCommand": build_command, "outputDir": output_dir,
                                                     "lockfileHash": lockfile_hash, **extra})
    return Build(body["deployment_id"], body["build_id"], start.status_code, start.json())


def run_build(api: Api, source: bytes, **kwargs: Any) -> Build:
    """Start a build and read its whole log stream (live mode) to the end."""
    build = start_build(api, source, **kwargs)
    assert build.start_status == 202, build.start_body
    with api.logs(build.deployment_id) as resp:
        assert resp.status_code == 200
        build.raw_log = resp.content.decode()
    return build


def wait_job(emu: Any, dep_id: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = emu.admin_deployment(dep_id)["build_job"]
        if job["status"] in ("READY", "FAILED"):
            return dict(job)
        assert time.monotonic() < deadline, job
        time.sleep(0.1)
