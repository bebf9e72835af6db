"""The admin interface: request log, fault injection (every action), forced states."""

from __future__ import annotations

import time

import pytest
import requests
from emulator.emulator_client import Api, site_zip
from emulator.source_projects import WRITE_WORKER, project_zip, run_build, start_build
from emulator_harness import Emulator, EmulatorError, EmulatorFactory


def test_request_log_records_redacted_requests_but_not_admin_calls(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    created = api.create_ok()
    api.upload(created["uploadUrl"], site_zip())
    requests.get(f"{fresh_emulator.url}/v1/app_demo/edge-ssr/deployments",
                 headers={"Authorization": "Bearer bb_sk_" + "9" * 40}, timeout=10)
    fresh_emulator.admin_deployment(created["id"])
    log = fresh_emulator.requests_log()
    assert [(r["server"], r["method"], r["status"]) for r in log] == [
        ("api", "POST", 200), ("storage", "PUT", 200), ("api", "GET", 401)]
    assert [r["seq"] for r in log] == sorted(r["seq"] for r in log)
    first, upload, bad = log
    assert first["auth"] == "valid" and bad["auth"] == "invalid" and upload["auth"] == "none"
    assert first["headers"]["authorization"] == "Bearer bb_sk_…REDACTED"
    assert fresh_emulator.api_key[6:] not in str(log)
    assert first["body_size"] == 2 and first["chunked"] is False
    assert upload["body_size"] == len(site_zip())
    assert "X-Amz-Signature=REDACTED" in upload["query"]
    assert created["uploadUrl"].rsplit("=", 1)[1] not in str(log)
    fresh_emulator.reset()
    assert fresh_emulator.requests_log() == []


def test_respond_fault_replaces_the_answer_a_given_number_of_times(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    fresh_emulator.add_fault(method="POST", path=r"/edge-ssr/deployments$", server="api", times=2, status=429,
                             body='{"error":{"code":"REQUEST_ERROR","message":"Rate limit exceeded, retry in 1 s"}}',
                             headers={"retry-after": "1"})
    for _ in range(2):
        resp = api.create()
        assert resp.status_code == 429
        assert resp.headers["retry-after"] == "1"
        assert resp.json()["error"]["message"].startswith("Rate limit exceeded")
    assert api.create().status_code == 200
    assert fresh_emulator.requests_log()[0]["status"] == 429


def test_fault_filters_on_server_method_and_path(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    fresh_emulator.add_fault(server="storage", path="/", times=0, status=503, body="<Error/>",
                             content_type="application/xml")
    assert api.create().status_code == 200  # the API is not the storage server
    created = api.create_ok()
    assert api.upload(created["uploadUrl"], site_zip()).status_code == 503
    assert api.upload(created["uploadUrl"], site_zip()).status_code == 503  # times=0: unlimited
    fresh_emulator.clear_faults()
    assert api.upload(created["uploadUrl"], site_zip()).status_code == 200
    fresh_emulator.add_fault(method="GET", path="/deployments/[0-9a-f-]+$", status=500, body="{}")
    assert api.create().status_code == 200
    assert api.get(created["id"]).status_code == 500


def test_delay_without_status_slows_the_real_answer(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    fresh_emulator.add_fault(path="/edge-ssr/deployments$", delay=0.6)
    started = time.monotonic()
    resp = api.create()
    assert resp.status_code == 200 and "uploadUrl" in resp.json()
    assert time.monotonic() - started >= 0.6


def test_drop_on_upload_reads_part_of_the_body_then_closes(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    created = api.create_ok()
    fresh_emulator.add_fault(server="storage", action="drop", path="/")
    with pytest.raises(requests.ConnectionError):
        api.upload(created["uploadUrl"], b"z" * 4_000_000)
    entry = fresh_emulator.requests_log()[-1]
    assert entry["server"] == "storage" and entry["status"] == 0
    assert 0 < entry["body_size"] < 4_000_000
    assert api.start(created["id"]).status_code == 200
    assert api.wait(created["id"])["error"].startswith("Object not found in R2")


def test_drop_on_an_api_call_closes_without_an_answer(fresh_emulator: Emulator) -> None:
    fresh_emulator.add_fault(action="drop", method="GET", path="/deployments/")
    with pytest.raises(requests.ConnectionError):
        Api(fresh_emulator).get("00000000-0000-0000-0000-000000000000")


def test_throttle_limits_the_upload_rate(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    created = api.create_ok()
    fresh_emulator.add_fault(server="storage", action="throttle", throttle_bps=100_000, path="/")
    started = time.monotonic()
    assert api.upload(created["uploadUrl"], b"z" * 150_000).status_code == 200
    assert time.monotonic() - started >= 1.2


def test_hang_keeps_a_plain_request_unanswered_until_the_client_gives_up(fresh_emulator: Emulator) -> None:
    fresh_emulator.add_fault(action="hang", path="/edge-ssr/deployments$", method="GET")
    api = Api(fresh_emulator)
    with pytest.raises(requests.ReadTimeout):
        api.session.get(api.url(), timeout=1)
    assert api.session.get(api.url(), timeout=5).status_code == 200


def test_hang_keeps_the_log_stream_open_without_done(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    build = run_build(api, project_zip())
    fresh_emulator.add_fault(action="hang", path="/logs$")
    received = []
    with pytest.raises(requests.ConnectionError), api.logs(build.deployment_id, timeout=1.5) as resp:
        for chunk in resp.iter_content(chunk_size=None):
            received.append(chunk.decode())
    assert "[runner] success" in "".join(received)
    assert "event: done" not in "".join(received)


def test_sse_drop_closes_the_stream_after_n_frames(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    build = start_build(api, project_zip(), build_command="echo a; sleep 0.3; echo b; " + WRITE_WORKER)
    fresh_emulator.add_fault(action="sse_drop", sse_drop_after=2, path="/logs$")
    received = []
    with pytest.raises(requests.exceptions.ChunkedEncodingError), api.logs(build.deployment_id) as resp:
        for chunk in resp.iter_content(chunk_size=None):
            received.append(chunk.decode())
    raw = "".join(received)
    assert raw.count("data: ") == 2
    assert "event: done" not in raw
    with api.logs(build.deployment_id) as resp:  # the fault was used up: the next stream is whole
        assert resp.content.decode().endswith("event: done\ndata: end\n\n")


def test_bad_fault_specs_are_rejected(fresh_emulator: Emulator) -> None:
    for spec in ({"action": "explode"}, {"path": "("}, {"server": "db"}, {"action": "throttle"},
                 {"times": -1}, {"status": "500"}, {"nonsense": 1}):
        with pytest.raises(EmulatorError, match="400"):
            fresh_emulator.add_fault(**spec)


def test_forced_status_and_raw_row(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    created = api.create_ok()
    row = fresh_emulator.set_status(created["id"], "BUILDING")
    assert row["status"] == "BUILDING"
    assert api.status(created["id"])["status"] == "BUILDING"
    fresh_emulator.set_status(created["id"], "ERROR", "stuck in a test")
    assert api.status(created["id"])["error"] == "stuck in a test"
    raw = fresh_emulator.admin_deployment(created["id"])
    assert [(h["status"], h["actor"]) for h in raw["status_history"]][-2:] == [("BUILDING", "admin"),
                                                                             ("ERROR", "admin")]
    assert raw["r2_object_key"] == f"app_demo/_deployments/{created['id']}.zip"
    with pytest.raises(EmulatorError, match="400"):
        fresh_emulator.set_status(created["id"], "FAILED")
    with pytest.raises(EmulatorError, match="404"):
        fresh_emulator.admin_deployment("00000000-0000-0000-0000-000000000000")


def test_admin_interface_is_absent_without_the_flag(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory(admin=False)
    resp = requests.get(f"{emu.url}/_admin/requests", timeout=10)
    assert resp.status_code == 404
    assert resp.json()["error"] == "Not Found"
