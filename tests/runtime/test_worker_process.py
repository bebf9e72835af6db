"""WorkerProcess serves hand-written workers in real workerd, in both `_worker.js` layouts."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from butterbase_emulator.runtime import (
    ENV_RUNTIME,
    RuntimeUnavailable,
    WorkerProcess,
    runtime_available,
    runtime_dir,
)

FILE_WORKER = """
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/via-assets") {
      return env.ASSETS.fetch(new URL("/hello.txt", request.url));
    }
    if (url.pathname === "/missing-asset") {
      const res = await env.ASSETS.fetch(new URL("/nope.txt", request.url));
      return new Response(`assets said ${res.status}`);
    }
    return Response.json({
      marker: request.headers.get("x-demo-marker"),
      path: url.pathname,
      method: request.method,
      greeting: env.GREETING ?? null,
    });
  },
};
"""

DIR_INDEX = """
import { shout } from "./lib/shout.mjs";
import { VERSION } from "./chunks/version.js";
import addModule from "./lib/add.wasm";

const add = new WebAssembly.Instance(addModule).exports.add;

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/static-through-binding") {
      return env.ASSETS.fetch(new URL("/assets/data.json", request.url));
    }
    return new Response(`${shout(request.headers.get("x-demo-marker") ?? "none")} v${VERSION} ${add(2, 3)}`, {
      headers: { "content-type": "text/plain" },
    });
  },
};
"""

# (i32, i32) -> i32 add, exported as "add".
ADD_WASM = bytes.fromhex("0061736d0100000001070160027f7f017f030201000707010361646400000a09010700200020016a0b")


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


@pytest.fixture
def file_site(tmp_path: Path) -> Path:
    site = tmp_path / "file-site"
    write(site / "_worker.js", FILE_WORKER)
    write(site / "hello.txt", "hello from a static file\n")
    write(site / "about.html", "<h1>about</h1>")
    write(site / "docs" / "index.html", "<h1>docs</h1>")
    return site


@pytest.fixture
def dir_site(tmp_path: Path) -> Path:
    site = tmp_path / "dir-site"
    write(site / "_worker.js" / "index.js", DIR_INDEX)
    write(site / "_worker.js" / "lib" / "shout.mjs", "export const shout = (s) => s.toUpperCase() + '!';\n")
    write(site / "_worker.js" / "chunks" / "version.js", "export const VERSION = 7;\n")
    write(site / "_worker.js" / "lib" / "add.wasm", ADD_WASM)
    write(site / "_worker.js" / "index.js.map", "{}")  # not a module: dropped, and never public
    write(site / "assets" / "data.json", json.dumps({"ok": True}))
    return site


def group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...; comm may contain spaces, so split after the last ')'.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def test_file_worker_renders_request_header_and_vars(file_site, serve, fetch):
    worker = serve(file_site, vars={"GREETING": "hi"})
    reply = fetch(worker.port, "/some/page?q=1", headers={"x-demo-marker": "hello-123"})
    assert reply.status == 200
    assert json.loads(reply.body) == {
        "marker": "hello-123",
        "path": "/some/page",
        "method": "GET",
        "greeting": "hi",
    }
    post = fetch(worker.port, "/hello.txt", method="POST")
    assert json.loads(post.body)["method"] == "POST", "non-GET requests go to the worker, not to assets"


def test_file_worker_reaches_static_files_through_assets_binding(file_site, serve, fetch):
    worker = serve(file_site)
    via_binding = fetch(worker.port, "/via-assets")
    assert via_binding.status == 200
    assert via_binding.text == "hello from a static file\n"
    assert fetch(worker.port, "/missing-asset").text == "assets said 404"


def test_matching_static_files_are_served_before_the_worker(file_site, serve, fetch):
    worker = serve(file_site)
    direct = fetch(worker.port, "/hello.txt")
    assert direct.status == 200
    assert direct.text == "hello from a static file\n"
    assert direct.headers["content-type"].startswith("text/plain")
    head = fetch(worker.port, "/hello.txt", method="HEAD")
    assert head.status == 200 and head.body == b""


def test_html_handling_is_auto_trailing_slash(file_site, serve, fetch):
    worker = serve(file_site)
    assert fetch(worker.port, "/about").text == "<h1>about</h1>"
    assert fetch(worker.port, "/docs/").text == "<h1>docs</h1>"
    redirect = fetch(worker.port, "/about.html")
    assert (redirect.status, redirect.headers["location"]) == (307, "/about")
    redirect = fetch(worker.port, "/docs")
    assert (redirect.status, redirect.headers["location"]) == (307, "/docs/")


def test_directory_worker_loads_every_module_and_wasm(dir_site, serve, fetch):
    worker = serve(dir_site)
    reply = fetch(worker.port, "/", headers={"x-demo-marker": "dir-form"})
    assert reply.status == 200
    assert reply.text == "DIR-FORM! v7 5"
    assert json.loads(fetch(worker.port, "/static-through-binding").body) == {"ok": True}
    assert json.loads(fetch(worker.port, "/assets/data.json").body) == {"ok": True}


def test_worker_folder_is_never_served_as_static_files(dir_site, serve, fetch):
    worker = serve(dir_site)
    for path in ("/_worker.js/index.js", "/_worker.js/index.js.map", "/_worker.js/lib/add.wasm"):
        reply = fetch(worker.port, path)
        assert b"export default" not in reply.body and b"\0asm" not in reply.body, path
        assert reply.text.startswith("NONE!"), f"{path} should reach the worker, got {reply.text!r}"


def test_stop_leaves_no_process_of_the_group(file_site, serve, fetch):
    worker = serve(file_site)
    pgid = worker.pid
    assert pgid is not None
    assert len(group_members(pgid)) >= 2, "node and workerd run in the worker's own process group"
    worker.stop()
    assert group_members(pgid) == []
    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)
    worker.stop()  # idempotent


def test_broken_worker_raises_with_log_tail(tmp_path, serve):
    site = tmp_path / "broken"
    write(site / "_worker.js", "export default { fetch( { syntax error here\n")
    with pytest.raises(RuntimeError) as info:
        serve(site)
    message = str(info.value)
    assert "exited with code" in message
    assert "Uncaught SyntaxError" in message or "SyntaxError" in message


def test_output_without_worker_raises_with_log_tail(tmp_path, serve):
    site = tmp_path / "no-worker"
    write(site / "index.html", "<p>static only</p>")
    with pytest.raises(RuntimeError, match=r"no _worker\.js"):
        serve(site)


def test_bogus_runtime_env_path_makes_runtime_unavailable(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_RUNTIME, str(tmp_path / "does-not-exist"))
    assert runtime_available() is False
    assert runtime_dir() is None
    worker = WorkerProcess(tmp_path, 1, tmp_path / "w.log")
    with pytest.raises(RuntimeUnavailable, match="make runtime"):
        worker.start()


def test_missing_node_makes_runtime_unavailable(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert runtime_available() is False
    with pytest.raises(RuntimeUnavailable, match="node is not on PATH"):
        WorkerProcess(tmp_path, 1, tmp_path / "w.log").start()


def test_symlinks_out_of_the_output_are_not_served(file_site, tmp_path, serve, fetch):
    secret = write(tmp_path / "outside.txt", "secret outside the output")
    (file_site / "leak.txt").symlink_to(secret)
    (file_site / "alias.txt").symlink_to(file_site / "hello.txt")
    worker = serve(file_site)
    assert b"secret" not in fetch(worker.port, "/leak.txt").body
    assert fetch(worker.port, "/alias.txt").text == "hello from a static file\n"
