"""Bad input ends in one line naming the input and the fix, exit 1, outputs written, no traceback,
and not a single request to the API."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from action_projects import make_prebuilt, make_source
from workflow_commands import parse


def _prepare(workspace: Path, kind: str) -> None:
    if kind == "prebuilt":
        make_prebuilt(workspace)
    elif kind == "source":
        make_source(workspace)
    elif kind == "no-index":
        (workspace / ".vercel/output/static/_worker.js").mkdir(parents=True)
    elif kind == "parent":
        make_prebuilt(workspace, ".vercel/output/static")
    elif kind == "escaping-link":
        out = make_prebuilt(workspace)
        (out / "passwd").symlink_to("/etc/passwd")
    elif kind == "dangling-link":
        out = make_prebuilt(workspace)
        (out / "gone").symlink_to(workspace / "missing")
    elif kind == "looping-link":
        out = make_prebuilt(workspace)
        (out / "loop").symlink_to(out)
    elif kind == "backslash-name":
        out = make_prebuilt(workspace)
        (out / "a\\b.js").write_text("x")
    elif kind == "non-utf8-name":
        out = make_prebuilt(workspace)
        with open(os.path.join(os.fsencode(out), b"\xff\xfe.txt"), "wb") as handle:
            handle.write(b"x")
    elif kind == "big-worker":
        out = workspace / ".vercel/output/static"
        out.mkdir(parents=True)
        (out / "_worker.js").write_bytes(os.urandom(6 * 1024 * 1024))
    elif kind == "big-source":
        make_source(workspace)
        (workspace / "video.bin").write_bytes(os.urandom(51 * 1024 * 1024))


CASES = [
    ("prebuilt", {"app_id": "APP"}, "app_id"),
    ("prebuilt", {"api_url": "http://api.example.test"}, "api_url"),
    ("prebuilt", {"flow": "sideways"}, "flow"),
    ("prebuilt", {"framework": "angular"}, "framework"),
    ("prebuilt", {"timeout": "soon"}, "timeout"),
    ("prebuilt", {"user_env": "PORT: 3000"}, "user_env"),
    ("prebuilt", {"working_directory": "/etc"}, "working_directory"),
    ("prebuilt", {"output_dir": "../../etc"}, "output_dir"),
    ("prebuilt", {"output_dir": "missing/out", "flow": "prebuilt"}, "output_dir"),
    ("no-index", {"flow": "prebuilt"}, "output_dir"),
    ("parent", {"flow": "prebuilt", "output_dir": ".vercel/output"}, "output_dir"),
    ("prebuilt", {"flow": "source"}, "working_directory"),
    ("escaping-link", {"flow": "prebuilt"}, "outside"),
    ("dangling-link", {"flow": "prebuilt"}, "dangling"),
    ("looping-link", {"flow": "prebuilt"}, "loop"),
    ("backslash-name", {"flow": "prebuilt"}, "backslash"),
    ("non-utf8-name", {"flow": "prebuilt"}, "UTF-8"),
    ("big-worker", {"flow": "prebuilt"}, "5 MiB"),
    ("big-source", {"flow": "source", "output_dir": "dist"}, "50 MiB"),
]


@pytest.mark.parametrize(("kind", "inputs", "named"), CASES, ids=[f"{k}-{n}" for k, _, n in CASES])
def test_rejected_cleanly_before_any_request(act, emulator, workspace: Path, kind: str, inputs: dict,
                                             named: str) -> None:
    _prepare(workspace, kind)
    run = act(**inputs)
    assert run.code == 1
    errors = [c for c in parse(run.stdout) if c.name == "error"]
    assert len(errors) == 1 and named in errors[0].data and "Fix: " in errors[0].data
    assert "Traceback" not in run.stdout + run.stderr
    assert run.outputs["status"] == "ERROR" and set(run.outputs) >= {"url", "deployment_id", "status"}
    assert [r for r in emulator.requests_log() if r["server"] == "api"] == []


def test_missing_api_key_is_named(act, emulator, workspace: Path) -> None:
    make_prebuilt(workspace)
    run = act(api_key="")
    assert run.code == 1 and "input 'api_key' is missing" in run.stdout
    assert emulator.requests_log() == []
