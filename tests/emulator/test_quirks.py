"""Quirk mode (--quirks): the real server's documented bugs (contract §0, §2, §3.1, §12)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import requests
from emulator.emulator_client import Api, log_text, parse_sse
from emulator.source_projects import WRITE_WORKER, project_zip, run_build, start_build, wait_job
from emulator_harness import Emulator


@pytest.fixture(scope="module")
def quirky(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    emu = Emulator(tmp_path_factory.mktemp("quirks") / "state", "--quirks", "--runtime", "off")
    with emu:
        yield emu


def _assert_zod_500(resp: requests.Response) -> None:
    assert resp.status_code == 500, resp.text
    err = resp.json()["error"]
    assert err["code"] == "INTERNAL_ERROR"
    assert err["message"] == "An internal error occurred while processing your request"
    assert err["details"]["error_class"] == "ZodError"
    assert "documentation_url" not in err


def test_body_validation_errors_are_500_internal_error(quirky: Emulator) -> None:
    api = Api(quirky)
    _assert_zod_500(api.create({"framework": "vue"}))
    _assert_zod_500(api.session.post(api.url(), timeout=10))  # no body at all on prebuilt create
    _assert_zod_500(api.create_source({"framework": "svelte"}))
    dep = api.create_source().json()["deployment_id"]
    for body in ({"lockfileHash": "NOT-HEX"}, {"lockfileHash": "abcdef12", "userEnv": {"A": 1}},
                 {"lockfileHash": "abcdef12", "buildCommand": "x" * 501}, {}):
        _assert_zod_500(api.start_source(dep, body))


def test_prebuilt_start_of_an_unknown_id_is_400_external_cloudflare_error(quirky: Emulator) -> None:
    resp = Api(quirky).start(str(uuid.uuid4()))
    assert resp.status_code == 400
    err = resp.json()["error"]
    assert (err["code"], err["message"]) == ("EXTERNAL_CLOUDFLARE_ERROR", "Edge SSR deployment not found")


def test_a_failed_build_leaves_the_row_waiting_forever(quirky: Emulator) -> None:
    api = Api(quirky)
    build = start_build(api, project_zip(), build_command="exit 7")
    job = wait_job(quirky, build.deployment_id)
    assert (job["status"], job["failure_reason"], job["exit_code"]) == ("FAILED", "BUILD_NONZERO_EXIT", 7)
    time.sleep(0.3)
    row = api.status(build.deployment_id)
    assert (row["status"], row["error"]) == ("WAITING", None)


def test_a_successful_build_still_deploys(quirky: Emulator) -> None:
    api = Api(quirky)
    build = start_build(api, project_zip())
    wait_job(quirky, build.deployment_id)
    assert api.wait(build.deployment_id)["status"] == "READY"


def test_logs_are_replayed_from_the_flushed_object_so_done_can_come_mid_build(quirky: Emulator) -> None:
    api = Api(quirky)
    build = start_build(api, project_zip(), build_command="echo early; sleep 4; echo late; " + WRITE_WORKER)
    first = parse_sse(api.logs(build.deployment_id).content.decode())
    assert first == [("error", "no logs available")]  # nothing flushed yet (flushes every 2 s)
    deadline = time.monotonic() + 15
    while True:
        events = parse_sse(api.logs(build.deployment_id).content.decode())
        if events and events[-1] == ("done", "end") and "early" in log_text(events):
            break
        assert time.monotonic() < deadline
        time.sleep(0.3)
    assert "[runner] success" not in log_text(events)  # done arrived while the build still ran
    assert api.status(build.deployment_id)["status"] == "WAITING"
    wait_job(quirky, build.deployment_id)


def test_live_streams_never_happen_even_for_the_process_running_the_build(quirky: Emulator) -> None:
    api = Api(quirky)
    build = run_build(api, project_zip(), build_command="mkdir -p out && echo x > out/index.html")
    wait_job(quirky, build.deployment_id)
    time.sleep(0.2)
    text = log_text(parse_sse(api.logs(build.deployment_id).content.decode()))
    assert "[runner] success" in text
    assert "[driver]" not in text  # replay mode: the stored log has no driver lines
