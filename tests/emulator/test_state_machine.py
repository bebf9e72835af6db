"""Contract §4.1 and §9: status transitions, supersede, cancel races, parallel consistency."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import requests
from emulator.emulator_client import Api, make_zip, site_zip
from emulator_harness import Emulator, EmulatorFactory

PARALLEL_APPS = ("app_p1", "app_p2", "app_p3", "app_p4", "app_p5")


def test_ready_supersedes_the_apps_other_active_rows_only(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    old_ready = api.deploy()
    waiting = api.create_ok()
    errored = api.deploy(make_zip({}))
    canceled = api.create_ok()
    api.session.post(api.url(canceled["id"], "cancel"), timeout=10)
    other_app = api.deploy(app="app_other")
    new_ready = api.deploy()
    assert new_ready["status"] == "READY"
    assert api.status(old_ready["id"])["status"] == "SUPERSEDED"
    assert api.status(waiting["id"])["status"] == "SUPERSEDED"
    assert api.status(errored["id"])["status"] == "ERROR"
    assert api.status(canceled["id"])["status"] == "CANCELED"
    assert api.status(other_app["id"], app="app_other")["status"] == "READY"


def test_a_superseded_row_that_was_never_started_cannot_start(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    waiting = api.create_ok()
    api.deploy()
    resp = api.start(waiting["id"])
    assert resp.status_code == 400
    assert resp.json()["error"]["message"] == "Edge SSR deployment is in SUPERSEDED status, cannot start"


def test_in_flight_pipeline_overwrites_superseded_and_goes_ready(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    dep_id = api.held_at_building()
    fresh_emulator.set_status(dep_id, "SUPERSEDED")  # another deploy finished first
    fresh_emulator.hold_pipeline(False)
    assert api.wait(dep_id, ("READY",))["status"] == "READY"


def test_cancel_during_uploading_is_lost(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    fresh_emulator.hold_pipeline(True, stage="UPLOADING")
    created = api.create_ok()
    api.upload(created["uploadUrl"], site_zip())
    api.start(created["id"])
    resp = api.session.post(api.url(created["id"], "cancel"), timeout=10)
    assert resp.json() == {"id": created["id"], "status": "CANCELED"}  # no warning: it was UPLOADING
    fresh_emulator.hold_pipeline(False)
    row = api.wait(created["id"], ("READY",))
    assert row["status"] == "READY"
    history = [h["status"] for h in fresh_emulator.admin_deployment(created["id"])["status_history"]]
    assert history == ["WAITING", "UPLOADING", "CANCELED", "BUILDING", "READY"]


def test_canceled_while_building_is_still_what_the_site_serves(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    site = api.deploy(site_zip(**{"index.html": "<p>first</p>"}))["url"]
    dep_id = api.held_at_building(site_zip(**{"index.html": "<p>second</p>"}))
    api.session.post(api.url(dep_id, "cancel"), timeout=10)
    fresh_emulator.hold_pipeline(False)
    deadline = time.monotonic() + 10
    while requests.get(site + "/", timeout=10).text != "<p>second</p>":
        assert time.monotonic() < deadline, "the canceled deployment never went live"
        time.sleep(0.05)
    time.sleep(0.2)
    assert api.status(dep_id)["status"] == "CANCELED"


def test_second_start_while_uploading_launches_a_second_pipeline(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    fresh_emulator.hold_pipeline(True, stage="UPLOADING")
    created = api.create_ok()
    api.upload(created["uploadUrl"], site_zip())
    assert api.start(created["id"]).json()["status"] == "UPLOADING"
    assert api.start(created["id"]).json()["status"] == "UPLOADING"
    fresh_emulator.hold_pipeline(False)
    time.sleep(0.5)
    history = [h["status"] for h in fresh_emulator.admin_deployment(created["id"])["status_history"]]
    # Two pipelines ran: the first deleted the object after READY, so the second one errors.
    assert history.count("UPLOADING") == 2
    assert "READY" in history


def test_admin_row_records_each_status_change_with_milliseconds(fresh_emulator: Emulator) -> None:
    row = Api(fresh_emulator).deploy()
    raw = fresh_emulator.admin_deployment(row["id"])
    assert raw["status"] == "READY"
    assert raw["status_changed_at"].endswith("Z") and "." in raw["status_changed_at"]
    assert [h["status"] for h in raw["status_history"]] == ["WAITING", "UPLOADING", "BUILDING", "READY"]


def test_twenty_parallel_deploys_across_five_apps_leave_one_ready_per_app(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory(apps=PARALLEL_APPS)
    api = Api(emu)

    def deploy(n: int) -> tuple[str, str, str]:
        app = PARALLEL_APPS[n % len(PARALLEL_APPS)]
        worker = Api(emu, app)
        created = worker.create_ok()
        body = site_zip(**{"index.html": f"<p>deploy {n}</p>"})
        assert worker.upload(created["uploadUrl"], body).status_code == 200
        started = worker.start(created["id"])
        # A sibling that finished first supersedes rows not started yet; those cannot start.
        assert started.status_code == 200 or "in SUPERSEDED status" in started.json()["error"]["message"]
        return app, created["id"], f"<p>deploy {n}</p>"

    with ThreadPoolExecutor(max_workers=20) as pool:
        launched = list(pool.map(deploy, range(20)))
    for app, dep_id, _ in launched:
        api.wait(dep_id, ("READY", "SUPERSEDED", "ERROR", "CANCELED"), app=app)
    time.sleep(0.3)  # in-flight pipelines may still flip SUPERSEDED rows back
    for app in PARALLEL_APPS:
        rows = api.session.get(api.url(app=app), timeout=10).json()["deployments"]
        mine = {dep_id: html for a, dep_id, html in launched if a == app}
        assert sorted(r["id"] for r in rows) == sorted(mine), "lost or duplicated rows"
        statuses = sorted(r["status"] for r in rows)
        assert statuses == ["READY", "SUPERSEDED", "SUPERSEDED", "SUPERSEDED"], (app, statuses)
        ready = next(r for r in rows if r["status"] == "READY")
        assert requests.get(ready["url"] + "/", timeout=10).text == mine[ready["id"]]
