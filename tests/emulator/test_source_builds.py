"""Contract §3.2 and §7: from-source endpoints and real builds on this machine."""

from __future__ import annotations

import re
import stat
import time
import uuid
import zipfile
from pathlib import Path

import requests
from emulator.emulator_client import Api
from emulator.source_projects import WRITE_WORKER, project_zip, run_build, start_build, wait_job
from emulator_harness import Emulator, EmulatorFactory


def test_create_is_201_snake_case_with_a_600_second_source_url(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    resp = api.create_source({"framework": "other-edge"})
    assert resp.status_code == 201
    body = resp.json()
    assert set(body) == {"deployment_id", "build_id", "upload_url", "max_source_bytes"}
    assert body["max_source_bytes"] == 52428800
    assert uuid.UUID(body["build_id"]) and uuid.UUID(body["deployment_id"])
    assert "X-Amz-Expires=600" in body["upload_url"]
    row = api.status(body["deployment_id"])
    assert (row["status"], row["framework"]) == ("WAITING", "other-edge")


def test_start_before_upload_is_409_and_leaves_the_job_pending(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    body = api.create_source().json()
    resp = api.start_source(body["deployment_id"], {"lockfileHash": "abcdef12", "buildCommand": "true"})
    assert resp.status_code == 409
    err = resp.json()["error"]
    assert err["code"] == "STATE_PREREQUISITE_MISSING"
    assert err["message"].startswith(f"Source zip not found at source/{body['deployment_id']}.zip.")
    job = fresh_emulator.admin_deployment(body["deployment_id"])["build_job"]
    assert job["status"] == "PENDING" and job["build_command"] == "true"  # written before the check


def test_start_with_a_source_over_50_mib_is_413(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    body = api.create_source().json()
    assert api.upload(body["upload_url"], b"\0" * (50 * 1024 * 1024 + 1)).status_code == 200
    resp = api.start_source(body["deployment_id"], {"lockfileHash": "abcdef12"})
    assert resp.status_code == 413
    assert resp.json()["error"]["code"] == "QUOTA_FILE_SIZE_EXCEEDED"
    assert resp.json()["error"]["message"] == "Source zip exceeds 50 MB (got 52428801 bytes)."


def test_jobs_that_are_missing_or_already_started_are_404(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    prebuilt = api.create_ok()
    resp = api.start_source(prebuilt["id"], {"lockfileHash": "abcdef12"})
    assert resp.status_code == 404
    assert resp.json()["error"]["message"] == "No PENDING build job found for that deployment"
    logs = api.logs(prebuilt["id"])
    assert logs.status_code == 404
    assert logs.json()["error"]["message"] == "No build job found for that deployment"
    build = start_build(api, project_zip())
    assert build.start_status == 202
    again = api.start_source(build.deployment_id, {"lockfileHash": "abcdef12"})
    assert again.status_code == 404
    wait_job(fresh_emulator, build.deployment_id)


def test_real_npm_build_goes_live_then_reuses_the_node_modules_cache(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory()
    api = Api(emu)
    build = start_build(api, project_zip(with_dep=True), build_command="node build.js", output_dir="out",
                        lockfile_hash="feedc0de0123", userEnv={"GREETING": "hello"})
    assert build.start_status == 202
    assert build.start_body == {
        "build_id": build.build_id, "status": "BUILDING",
        "logs_url": f"/v1/app_demo/edge-ssr/deployments/from-source/{build.deployment_id}/logs",
        "status_url": f"/v1/app_demo/edge-ssr/deployments/{build.deployment_id}",
    }
    assert api.status(build.deployment_id)["status"] == "WAITING"  # the row waits during the build
    frames_seen_before_ready = 0
    with api.logs(build.deployment_id) as resp:
        assert resp.headers["content-type"] == "text/event-stream"
        chunks = []
        for chunk in resp.iter_content(chunk_size=None):
            chunks.append(chunk.decode())
            if "[runner] success" not in "".join(chunks):
                frames_seen_before_ready += 1
        build.raw_log = "".join(chunks)
    assert frames_seen_before_ready > 0
    assert build.events[-1] == ("done", "end")
    text = build.text
    assert text.startswith(f"[runner] downloading source source/{build.deployment_id}.zip\n")
    assert "[runner] npm install --no-audit --no-fund --include=dev\n" in text
    assert "added 1 package" in text
    assert "[runner] running build: node build.js\n" in text
    assert "built with NODE_ENV=production GREETING=hello\n" in text
    assert re.search(r"\[runner\] uploading artifact \(\d+ bytes\)\n", text)
    assert text.endswith("[runner] success\n")
    assert "restoring node_modules cache" not in text
    row = api.status(build.deployment_id)  # live `done` comes after the deploy
    assert row["status"] == "READY", row
    history = [h["status"] for h in emu.admin_deployment(build.deployment_id)["status_history"]]
    assert history == ["WAITING", "BUILDING", "READY"]  # BUILDING only once the artifact is deployed
    assert requests.get(row["url"] + "/", timeout=10).text == "<p>built from source</p>"
    assert not any((emu.state_dir / "builds").iterdir())  # work dir cleaned

    second = run_build(api, project_zip(with_dep=True), build_command="node build.js", output_dir="out",
                       lockfile_hash="feedc0de0123")
    assert "[runner] restoring node_modules cache (feedc0de0123)\n" in second.text
    assert "[runner] npm install" in second.text  # install always runs
    assert api.status(second.deployment_id)["status"] == "READY"
    assert api.status(build.deployment_id)["status"] == "SUPERSEDED"


def test_build_command_failure_is_build_nonzero_exit_with_its_exit_code(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    build = run_build(api, project_zip(), build_command="echo going down; exit 3")
    assert "going down\n" in build.text
    assert build.text.endswith("[runner] FAILED: build failed\n")
    row = api.status(build.deployment_id)
    assert (row["status"], row["error"], row["completedAt"]) == ("ERROR", "BUILD_NONZERO_EXIT", None)
    job = wait_job(fresh_emulator, build.deployment_id)
    assert (job["status"], job["exit_code"], job["failure_reason"]) == ("FAILED", 3, "BUILD_NONZERO_EXIT")


def test_install_failure_is_build_nonzero_exit(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    build = run_build(api, project_zip({"package.json": "{ not json"}))
    assert build.text.endswith("[runner] FAILED: install failed\n")
    assert api.status(build.deployment_id)["error"] == "BUILD_NONZERO_EXIT"


def test_missing_output_dir_is_output_not_found(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    build = run_build(api, project_zip(), build_command="true", output_dir="dist")
    assert build.text.endswith("[runner] FAILED: output dir dist missing\n")
    assert api.status(build.deployment_id)["error"] == "OUTPUT_NOT_FOUND"
    outside = run_build(api, project_zip(), build_command="true", output_dir="../..")
    assert api.status(outside.deployment_id)["error"] == "OUTPUT_NOT_FOUND"


def test_artifact_over_25_mib_is_artifact_too_large(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    build = run_build(api, project_zip(),
                      build_command=WRITE_WORKER + " && head -c 27000000 /dev/urandom > out/big.bin")
    assert re.search(r"\[runner\] FAILED: artifact \d+ > 26214400\n$", build.text)
    assert api.status(build.deployment_id)["error"] == "ARTIFACT_TOO_LARGE"


def test_deploy_failure_is_deploy_failed_with_the_server_message_on_the_row(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    build = run_build(api, project_zip(), build_command="mkdir -p out && echo hi > out/index.html")
    assert "[runner] success\n" in build.text
    assert "[driver] deploy failed: Zip is missing _worker.js" in build.text
    row = api.status(build.deployment_id)
    assert row["status"] == "ERROR" and row["error"].startswith("Zip is missing _worker.js")
    job = wait_job(fresh_emulator, build.deployment_id)
    assert (job["failure_reason"], job["exit_code"]) == ("DEPLOY_FAILED", 1)


def test_build_timeout_kills_the_process_group(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory("--build-timeout", "3")
    api = Api(emu)
    started = time.monotonic()
    build = run_build(api, project_zip(), build_command='sleep 60 & echo "child $!"; wait')
    assert time.monotonic() - started < 20
    assert "--build-timeout of 3 s" in build.text
    assert api.status(build.deployment_id)["error"] == "INTERNAL"
    match = re.search(r"child (\d+)", build.text)
    assert match, build.text
    child = int(match.group(1))
    stat_file = Path(f"/proc/{child}/stat")
    deadline = time.monotonic() + 5
    while stat_file.exists() and stat_file.read_text().split()[2] not in ("Z", "X"):
        assert time.monotonic() < deadline, "the build's background process survived the timeout"
        time.sleep(0.1)


def test_unsafe_source_entries_are_skipped(fresh_emulator: Emulator, tmp_path: Path) -> None:
    api = Api(fresh_emulator)
    source = tmp_path / "src.zip"
    with zipfile.ZipFile(source, "w") as zf:
        zf.writestr("package.json", '{"name": "x", "version": "1.0.0"}')
        zf.writestr("../../../escaped-by-test.txt", "nope")
        link = zipfile.ZipInfo("link-to-passwd")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
    build = run_build(api, source.read_bytes(), build_command=WRITE_WORKER + " && test ! -e link-to-passwd")
    assert "[runner] skipped symlink entry link-to-passwd\n" in build.text
    assert "[runner] skipped entry outside the project: ../../../escaped-by-test.txt\n" in build.text
    assert api.status(build.deployment_id)["status"] == "READY"
    assert not list(fresh_emulator.state_dir.parent.parent.rglob("escaped-by-test.txt"))
