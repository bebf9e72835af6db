from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from action_runner import ActionRun, run_action


@pytest.fixture
def act(emulator, workspace: Path, tmp_path: Path) -> Callable[..., ActionRun]:
    """Run the action against the shared emulator with its key and app, plus the given inputs."""
    emulator.reset()
    counter = iter(range(1000))

    def run(wait: float = 180, target=None, **inputs: str) -> ActionRun:
        server = target or emulator
        base = {"api_url": server.url, "api_key": server.api_key, "app_id": "app_demo", "timeout": "60"}
        base.update(inputs)
        return run_action(workspace, tmp_path / f"files{next(counter)}", wait=wait, **base)

    return run
