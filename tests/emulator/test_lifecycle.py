"""The command line, clean shutdown and state that survives a restart."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from emulator.emulator_client import Api, site_zip
from emulator.source_projects import project_zip, start_build
from emulator_harness import DEV_API_KEY, READY_PREFIX, Emulator, EmulatorFactory


def _spawn(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "butterbase_emulator", *args], cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_defaults_print_one_ready_line_and_stop_cleanly_on_signals(tmp_path: Path, sig: signal.Signals) -> None:
    proc = _spawn("--port", "0", "--runtime", "off", cwd=tmp_path)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith(READY_PREFIX + "http://127.0.0.1:")
        url = line[len(READY_PREFIX):].strip()
        resp = requests.post(f"{url}/v1/app_demo/edge-ssr/deployments", json={},
                             headers={"Authorization": f"Bearer {DEV_API_KEY}"}, timeout=10)
        assert resp.status_code == 200  # the documented dev key and app work out of the box
        assert (tmp_path / ".butterbase-emulator" / "state.sqlite3").exists()
        os.killpg(proc.pid, sig)
        out, _ = proc.communicate(timeout=15)
        assert proc.returncode == 0
        assert out == ""  # exactly one line on stdout
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_shutdown_kills_a_running_build(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory()
    api = Api(emu)
    build = start_build(api, project_zip(), build_command='sleep 300 & echo "child $!"; wait')
    seen = ""
    with api.logs(build.deployment_id, timeout=30) as resp:
        for chunk in resp.iter_content(chunk_size=None):
            seen += chunk.decode()
            if match := re.search(r"child (\d+)", seen):
                break
    assert match, seen
    pid = int(match.group(1))
    started = time.monotonic()
    assert emu.stop() == 0
    assert time.monotonic() - started < 10
    stat_file = Path(f"/proc/{pid}/stat")
    assert not stat_file.exists() or stat_file.read_text().split()[2] in ("Z", "X")


def test_busy_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        proc = _spawn("--port", str(port), "--state-dir", str(tmp_path / "s"), "--runtime", "off", cwd=tmp_path)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 2
    assert out == ""
    assert f"cannot listen on 127.0.0.1:{port}" in err


def test_bad_app_id_is_rejected(tmp_path: Path) -> None:
    proc = _spawn("--app", "Demo", "--state-dir", str(tmp_path / "s"), cwd=tmp_path)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 2 and "not an app id" in err


def test_history_ports_and_upload_urls_survive_a_restart(emulator_factory: EmulatorFactory) -> None:
    emu: Emulator = emulator_factory()
    api = Api(emu)
    ready = api.deploy()
    pending = api.create_ok()  # its upload URL must still work after the restart
    listed_before = api.session.get(api.url(), timeout=10).json()
    emu.restart()
    api = Api(emu)
    assert api.session.get(api.url(), timeout=10).json() == listed_before
    assert api.status(ready["id"])["url"] == ready["url"]  # same site port
    assert requests.get(ready["url"] + "/", timeout=10).text == "<h1>static hello</h1>"
    assert api.upload(pending["uploadUrl"], site_zip()).status_code == 200
    assert api.start(pending["id"]).status_code == 200
    assert api.wait(pending["id"])["status"] == "READY"
    assert api.status(ready["id"])["status"] == "SUPERSEDED"
