"""Contract §3.1: the prebuilt-zip endpoints, success bodies and their errors."""

from __future__ import annotations

import re
import time
import uuid

import requests
from emulator.emulator_client import Api, make_zip, site_zip
from emulator_harness import Emulator, EmulatorFactory

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
DEPLOYMENT_KEYS = {
    "id", "framework", "url", "status", "error", "fileCount", "totalSizeBytes", "workerScriptSizeBytes",
    "workerScriptModuleCount", "createdAt", "startedAt", "completedAt", "updatedAt",
}


def test_create_answers_200_camelcase_with_presigned_url_on_another_origin(fresh_emulator: Emulator) -> None:
    resp = Api(fresh_emulator).create({"framework": "remix-edge"})
    assert resp.status_code == 200
    body = resp.json()
    assert set(body) == {"id", "uploadUrl", "expiresIn", "maxSizeBytes"}
    assert uuid.UUID(body["id"])
    assert body["expiresIn"] == 900
    assert body["maxSizeBytes"] == 104857600
    upload = body["uploadUrl"]
    assert not upload.startswith(fresh_emulator.url)
    assert f"/app_demo/_deployments/{body['id']}.zip?" in upload
    assert "X-Amz-Signature=" in upload and "X-Amz-Expires=900" in upload and "X-Amz-Date=" in upload


def test_new_deployment_is_waiting_with_null_fields(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    created = api.create_ok()
    row = api.status(created["id"])
    assert set(row) == DEPLOYMENT_KEYS
    assert row["status"] == "WAITING"
    assert row["framework"] == "nextjs-edge"
    assert row["url"] is None and row["error"] is None and row["startedAt"] is None
    assert row["totalSizeBytes"] is None and row["workerScriptSizeBytes"] is None
    assert ISO_MS.match(row["createdAt"]) and ISO_MS.match(row["updatedAt"])


def test_full_prebuilt_flow_reaches_ready_with_sizes_and_serving_url(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    created = api.create_ok()
    assert api.upload(created["uploadUrl"], site_zip()).status_code == 200
    start = api.start(created["id"])
    assert start.status_code == 200
    assert start.json() == {"id": created["id"], "status": "UPLOADING"}
    row = api.wait(created["id"])
    assert row["status"] == "READY", row
    assert row["fileCount"] == 1
    assert row["workerScriptModuleCount"] == 1
    assert row["workerScriptSizeBytes"] == len(b"export default { async fetch() { return new Response("
                                               b"'hello from the worker'); } };\n")
    assert row["totalSizeBytes"] == row["workerScriptSizeBytes"] + len("<h1>static hello</h1>")
    assert ISO_MS.match(row["completedAt"]) and ISO_MS.match(row["startedAt"])
    assert row["url"].startswith("http://127.0.0.1:")
    page = requests.get(row["url"] + "/", timeout=10)
    assert page.status_code == 200 and "static hello" in page.text


def test_start_of_a_building_row_is_idempotent(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    dep_id = api.held_at_building()
    again = api.start(dep_id)
    assert again.status_code == 200
    assert again.json() == {"id": dep_id, "status": "BUILDING"}
    fresh_emulator.hold_pipeline(False)
    assert api.wait(dep_id)["status"] == "READY"


def test_start_of_a_terminal_row_is_400_invalid_status(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    row = api.deploy()
    resp = api.start(row["id"])
    assert resp.status_code == 400
    err = resp.json()["error"]
    assert err["code"] == "EXTERNAL_CLOUDFLARE_ERROR"
    assert err["message"] == "Edge SSR deployment is in READY status, cannot start"
    assert err["documentation_url"] == "https://docs.butterbase.ai/errors#external-cloudflare-error"


def test_start_of_unknown_id_is_404_in_default_mode(fresh_emulator: Emulator) -> None:
    resp = Api(fresh_emulator).start(str(uuid.uuid4()))
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "RESOURCE_NOT_FOUND"


def test_prebuilt_start_of_a_from_source_row_errors_on_its_missing_key(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    dep_id = api.create_source().json()["deployment_id"]
    assert api.start(dep_id).json() == {"id": dep_id, "status": "UPLOADING"}
    row = api.wait(dep_id)
    assert (row["status"], row["error"]) == ("ERROR", "Invalid object key: must be a non-empty string")


def test_missing_upload_turns_into_error_with_r2_wording(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    created = api.create_ok()
    assert api.start(created["id"]).status_code == 200  # the upload is not checked at /start
    row = api.wait(created["id"])
    assert row["status"] == "ERROR"
    assert row["error"].startswith("Object not found in R2: bucket=")
    assert f"key=app_demo/_deployments/{created['id']}.zip" in row["error"]
    assert row["completedAt"] is None


def test_get_unknown_and_non_uuid_ids(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    missing = api.get(str(uuid.uuid4()))
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "RESOURCE_NOT_FOUND"
    assert missing.json()["error"]["message"] == "Deployment not found"
    bad = api.get("not-a-uuid")
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "VALIDATION_INVALID_INPUT"
    assert bad.json()["error"]["details"]["pg_code"] == "22P02"


def test_every_deployment_route_rejects_a_non_uuid_id(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    s = api.session
    answers = [
        s.post(api.url("nope", "start"), timeout=10),
        s.post(api.url("nope", "sync"), timeout=10),
        s.post(api.url("nope", "cancel"), timeout=10),
        s.delete(api.url("nope"), timeout=10),
        s.get(api.url("from-source", "nope", "logs"), timeout=10),
    ]
    assert [r.status_code for r in answers] == [400] * 5
    assert {r.json()["error"]["code"] for r in answers} == {"VALIDATION_INVALID_INPUT"}


def test_list_is_newest_first_and_capped_at_50(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory()
    api = Api(emu)
    ids = [api.create_ok()["id"] for _ in range(53)]
    api.create_ok(app="app_other")
    resp = api.session.get(api.url(), timeout=10)
    assert resp.status_code == 200
    listed = [d["id"] for d in resp.json()["deployments"]]
    assert listed == list(reversed(ids))[:50]


def test_sync_returns_id_status_and_url_only_when_set(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    waiting = api.create_ok()
    resp = api.session.post(api.url(waiting["id"], "sync"), timeout=10)
    assert resp.json() == {"id": waiting["id"], "status": "WAITING"}
    ready = api.deploy()
    resp = api.session.post(api.url(ready["id"], "sync"), timeout=10)
    assert resp.json() == {"id": ready["id"], "status": "READY", "url": ready["url"]}
    missing = api.session.post(api.url(str(uuid.uuid4()), "sync"), timeout=10)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "RESOURCE_NOT_FOUND"


def test_cancel_rules(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    waiting = api.create_ok()
    resp = api.session.post(api.url(waiting["id"], "cancel"), timeout=10)
    assert resp.status_code == 200
    assert resp.json() == {"id": waiting["id"], "status": "CANCELED"}
    row = api.status(waiting["id"])
    assert row["status"] == "CANCELED" and row["completedAt"] is not None
    again = api.session.post(api.url(waiting["id"], "cancel"), timeout=10)
    assert again.status_code == 400
    assert again.json()["error"]["message"] == "Cannot cancel deployment in CANCELED status"
    missing = api.session.post(api.url(str(uuid.uuid4()), "cancel"), timeout=10)
    assert missing.status_code == 404


def test_cancel_while_building_warns_and_skips_ready(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    dep_id = api.held_at_building()
    resp = api.session.post(api.url(dep_id, "cancel"), timeout=10)
    assert resp.status_code == 200
    assert "warning" in resp.json() and resp.json()["status"] == "CANCELED"
    fresh_emulator.hold_pipeline(False)
    time.sleep(0.5)
    assert api.status(dep_id)["status"] == "CANCELED"
    history = fresh_emulator.admin_deployment(dep_id)["status_history"]
    assert [h["status"] for h in history] == ["WAITING", "UPLOADING", "BUILDING", "CANCELED"]


def test_delete_removes_the_row_and_rejects_json_content_type_without_body(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    created = api.create_ok()
    bad = api.session.delete(api.url(created["id"]), headers={"Content-Type": "application/json"}, timeout=10)
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "REQUEST_ERROR"
    resp = api.session.delete(api.url(created["id"]), timeout=10)
    assert resp.status_code == 200 and resp.json() == {"deleted": True}
    assert api.get(created["id"]).status_code == 404
    assert api.session.delete(api.url(created["id"]), timeout=10).status_code == 404


def test_directory_worker_layout_counts_only_js_mjs_wasm_modules(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    data = make_zip({
        "_worker.js/index.js": "import './chunks/a.js'; export default {};",
        "_worker.js/chunks/a.js": "export const a = 1;",
        "_worker.js/chunks/b.mjs": "export const b = 2;",
        "_worker.js/chunks/c.wasm": b"\0asm",
        "_worker.js/chunks/a.js.map": "{}",
        "_worker.js/manifest.json": "{}",
        "_next/static/app.css": "body{}",
        "index.html": "<p>x</p>",
    })
    row = api.deploy(data)
    assert row["status"] == "READY", row
    assert row["workerScriptModuleCount"] == 4
    assert row["fileCount"] == 2
    worker = sum(len(s) for s in ["import './chunks/a.js'; export default {};", "export const a = 1;",
                                  "export const b = 2;"]) + 4
    assert row["workerScriptSizeBytes"] == worker
    assert row["totalSizeBytes"] == worker + len("body{}") + len("<p>x</p>")


def test_backslashes_and_leading_slashes_are_normalised(fresh_emulator: Emulator) -> None:
    row = Api(fresh_emulator).deploy(make_zip({"/_worker.js\\index.js": "export default {}",
                                               "assets\\a.txt": "a"}))
    assert row["status"] == "READY", row
    assert row["fileCount"] == 1


def test_layout_errors_use_the_server_messages(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    wrapped = api.deploy(make_zip({"out/_worker.js": "x", "out/index.html": "y"}))
    assert wrapped["status"] == "ERROR"
    assert wrapped["error"].startswith("Zip is missing _worker.js")
    no_index = api.deploy(make_zip({"_worker.js/chunk.js": "x"}))
    assert no_index["error"] == "Zip has _worker.js/ directory but is missing _worker.js/index.js entry script."
    empty = api.deploy(make_zip({}))
    assert empty["error"] == "Zip file contains no entries"
    not_zip = api.deploy(b"this is not a zip")
    assert not_zip["status"] == "ERROR"
    assert all(r["completedAt"] is None for r in (wrapped, no_index, empty, not_zip))


def test_worker_over_5_mib_uncompressed_is_worker_too_large(fresh_emulator: Emulator) -> None:
    big = make_zip({"_worker.js/index.js": "x" * (5 * 1024 * 1024), "_worker.js/m.js": "y" * 10})
    row = Api(fresh_emulator).deploy(big)
    assert row["status"] == "ERROR"
    assert row["error"] == "Worker script exceeds 5 MB limit (got 5120 KB)"


def test_zip_entries_escaping_the_site_are_never_written(fresh_emulator: Emulator) -> None:
    data = make_zip({"_worker.js": "export default {}", "../../escape.txt": "pwned", "ok.txt": "fine"})
    row = Api(fresh_emulator).deploy(data)
    assert row["status"] == "READY"
    assert not list(fresh_emulator.state_dir.parent.rglob("escape.txt"))
    assert requests.get(row["url"] + "/ok.txt", timeout=10).text == "fine"
