"""The self-test workflow's `uses: ./` job, run whole by act against podman (scripts/container/run-act.sh)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from container.runner_like import ROOT, SCRIPTS

pytestmark = pytest.mark.e2e


def test_workflow_job_deploys_with_uses_dot_and_the_next_step_sees_the_outputs():
    env = {**os.environ, "BBED_VENV": sys.prefix}
    result = subprocess.run(["bash", str(SCRIPTS / "run-act.sh"), "action"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=900, check=False)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-6000:]
    assert "Job succeeded" in log
    assert "Success - Main Deploy with the action" in log
    seen = re.search(r"self-test outputs: status=(\S*) deployment_id=(\S*) url=(\S*)", log)
    assert seen, log[-6000:]
    status, deployment_id, url = seen.groups()
    assert status == "READY"
    assert re.fullmatch(r"[0-9a-f-]{36}", deployment_id)
    assert url.startswith("http://127.0.0.1:")
    assert "self-test served: hello from the self-test workflow" in log
