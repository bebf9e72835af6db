"""examples/hello-source builds with `npm install && npm run build` and its dist/ serves in workerd."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hello-source"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the example built the way Butterbase's runner does: install, then the build command."""
    project = tmp_path_factory.mktemp("hello-source") / "project"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("node_modules", "dist"))
    env = {**os.environ, "BUILD_LABEL": "label <&> $&"}
    for cmd in (["npm", "install", "--no-audit", "--no-fund"], ["sh", "-lc", "npm run build"]):
        subprocess.run(cmd, cwd=project, env=env, check=True, capture_output=True, timeout=120)
    return project / "dist"


@pytest.fixture(scope="module")
def port(built: Path, serve_for_module) -> int:
    return serve_for_module(built).port


def test_build_writes_a_single_file_worker_and_static_files(built):
    assert (built / "_worker.js").is_file()
    assert (built / "hello.txt").read_text() == (EXAMPLE / "public" / "hello.txt").read_text()


def test_page_renders_the_header_escaped_and_the_build_facts(port, fetch):
    reply = fetch(port, "/", headers={"x-demo-marker": "hello-123"})
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/html")
    assert '<code id="marker">hello-123</code>' in reply.text
    assert '<code id="build-label">label &lt;&amp;&gt; $&amp;</code>' in reply.text

    hostile = fetch(port, "/", headers={"x-demo-marker": "<img src=x>"})
    assert "&lt;img src=x&gt;" in hostile.text and "<img src=x>" not in hostile.text


def test_build_facts_come_from_build_time(port, fetch):
    facts = json.loads(fetch(port, "/api/build").body)
    assert facts["label"] == "label <&> $&"
    assert facts["builtAt"].endswith("Z")


def test_static_file_and_missing_path(port, fetch, built):
    reply = fetch(port, "/hello.txt")
    assert reply.status == 200
    assert reply.body == (built / "hello.txt").read_bytes()
    assert fetch(port, "/nope").status == 404
