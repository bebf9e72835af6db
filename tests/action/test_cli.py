"""The command line and the runner's clean-up, in process, against the emulator."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from action_projects import make_prebuilt

from butterbase_edge_deploy import cli
from butterbase_edge_deploy.console import Console
from butterbase_edge_deploy.deploy import Pipeline
from butterbase_edge_deploy.report import RunReport
from butterbase_edge_deploy.runner import _cancel_remote
from butterbase_edge_deploy.settings import load


def test_package_writes_the_zip_and_refuses_a_folder(workspace: Path, tmp_path: Path, capsys) -> None:
    make_prebuilt(workspace)
    out = tmp_path / "deploy.zip"
    assert cli.main(["package", "--working-directory", str(workspace), "--out", str(out)]) == 0
    with zipfile.ZipFile(out) as archive:
        assert "_worker.js/index.js" in archive.namelist()
    assert cli.main(["package", "--working-directory", str(workspace), "--out", str(tmp_path)]) == 1
    assert "is a folder" in capsys.readouterr().out


def test_a_cancel_that_comes_too_late_reports_the_real_status(act, emulator, workspace: Path) -> None:
    make_prebuilt(workspace)
    done = act(flow="prebuilt")
    assert done.outputs["status"] == "READY"
    settings = load({"api_url": emulator.url, "api_key": emulator.api_key, "app_id": "app_demo"},
                    workspace=workspace, confine_to_workspace=True)
    stream = io.StringIO()
    report = RunReport(deployment_id=done.outputs["deployment_id"], flow="prebuilt", status="CANCELED")
    pipeline = Pipeline(settings, Console(stream), report)
    _cancel_remote(pipeline, pipeline.console, report)
    assert report.status == "READY" and report.url == done.outputs["url"]
    assert "the cancel came too late" in stream.getvalue()
