"""The committed next-on-pages output of examples/nextjs-edge serves like a real deployment."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

OUTPUT = Path(__file__).resolve().parents[2] / "examples" / "nextjs-edge" / ".vercel" / "output" / "static"


@pytest.fixture(scope="module")
def nextjs_port(serve_for_module) -> int:
    return serve_for_module(OUTPUT).port


def test_committed_output_has_the_directory_worker_layout():
    assert (OUTPUT / "_worker.js" / "index.js").is_file()
    assert (OUTPUT / "hello.txt").is_file()
    assert not (OUTPUT / "_worker.js" / "nop-build-log.json").exists(), "build log holds per-build keys"


def test_edge_page_renders_the_request_header_on_the_server(nextjs_port, fetch):
    reply = fetch(nextjs_port, "/", headers={"x-demo-marker": "hello-123"})
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/html")
    assert '<code id="marker">hello-123</code>' in reply.text
    assert re.search(r'<time id="rendered-at">\d{4}-\d\d-\d\dT[\d:.]+Z</time>', reply.text)


def test_edge_page_escapes_the_header(nextjs_port, fetch):
    reply = fetch(nextjs_port, "/", headers={"x-demo-marker": "<script>x</script>"})
    assert "&lt;script&gt;x&lt;/script&gt;" in reply.text
    assert "<script>x</script>" not in reply.text


def test_edge_api_route_returns_json(nextjs_port, fetch):
    reply = fetch(nextjs_port, "/api/hello", headers={"x-demo-marker": "api-7"})
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("application/json")
    body = json.loads(reply.body)
    assert body["message"] == "hello from an edge API route"
    assert body["marker"] == "api-7"


def test_public_file_is_served(nextjs_port, fetch):
    reply = fetch(nextjs_port, "/hello.txt")
    assert reply.status == 200
    assert reply.body == (OUTPUT / "hello.txt").read_bytes()


def test_unknown_path_gets_the_next_404_page(nextjs_port, fetch):
    reply = fetch(nextjs_port, "/no-such-page")
    assert reply.status == 404
    assert "404" in reply.text
