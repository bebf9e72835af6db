"""What a READY deployment's url answers: static files, the 501 runtime page, or the real worker."""

from __future__ import annotations

import requests
from emulator.emulator_client import Api, make_zip, site_zip
from emulator_harness import Emulator, EmulatorFactory

ECHO_WORKER = """
export default {
  async fetch(request) {
    const url = new URL(request.url);
    const body = await request.text();
    return new Response(`${VERSION} ${request.method} ${url.pathname}${url.search} ${body}`,
                        { headers: { "x-worker": "yes" } });
  }
};
"""


def test_nothing_deployed_yet_is_a_404_page(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory()
    api = Api(emu)
    row = api.create_ok()
    assert api.status(row["id"])["url"] is None  # url stays null until READY
    page = requests.get(emu.site_url("app_demo") + "/", timeout=10)
    assert page.status_code == 404
    assert "nothing is deployed to app_demo yet" in page.text
    assert api.deploy()["url"] == emu.site_url("app_demo")


def test_static_mode_serves_files_and_explains_how_to_get_the_runtime(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    row = api.deploy(site_zip(**{"about.html": "<p>about</p>", "css/site.css": "body{}"}))
    url = row["url"]
    assert requests.get(url + "/", timeout=10).text == "<h1>static hello</h1>"
    assert requests.get(url + "/about", timeout=10).text == "<p>about</p>"
    css = requests.get(url + "/css/site.css", timeout=10)
    assert css.headers["content-type"].startswith("text/css")
    assert requests.head(url + "/css/site.css", timeout=10).headers["content-length"] == "6"
    page = requests.get(url + "/api/hello", timeout=10)
    assert page.status_code == 501
    assert "make runtime" in page.text and "miniflare" in page.text and ".runtime/" in page.text
    assert requests.get(url + "/_worker.js", timeout=10).status_code == 501  # never a public asset
    assert requests.post(url + "/", data=b"x", timeout=10).status_code == 501
    assert [r["server"] for r in fresh_emulator.requests_log()[-5:]] == ["site"] * 5


def test_site_port_is_stable_per_app_and_shows_the_latest_deploy(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    first = api.deploy(site_zip(**{"index.html": "one"}))
    second = api.deploy(site_zip(**{"index.html": "two"}))
    other = api.deploy(site_zip(**{"index.html": "other"}), app="app_other")
    assert first["url"] == second["url"] != other["url"]
    assert requests.get(second["url"] + "/", timeout=10).text == "two"
    assert requests.get(other["url"] + "/", timeout=10).text == "other"


def test_with_the_runtime_every_request_is_proxied_to_the_worker(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory("--runtime", "auto")
    api = Api(emu)
    row = api.deploy(make_zip({"_worker.js": ECHO_WORKER.replace("${VERSION}", "v1"), "index.html": "static"}))
    assert row["status"] == "READY", row
    resp = requests.post(row["url"] + "/api/echo?x=1", data=b"payload", timeout=30)
    assert resp.status_code == 200
    assert resp.text == "v1 POST /api/echo?x=1 payload"
    assert resp.headers["x-worker"] == "yes"
    row2 = api.deploy(make_zip({"_worker.js": ECHO_WORKER.replace("${VERSION}", "v2")}))
    assert row2["url"] == row["url"]
    assert requests.get(row["url"] + "/", timeout=30).text.startswith("v2 GET /")
