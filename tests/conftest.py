"""Shared fixtures: a running Butterbase emulator (see tests/emulator_harness.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from emulator_harness import Emulator, EmulatorFactory  # tests/ is on pythonpath (pyproject.toml)


def _with_runtime_default(args: tuple[str, ...]) -> tuple[str, ...]:
    """Static-only sites unless a test asks for the Workers runtime (``--runtime auto``)."""
    return args if "--runtime" in args else (*args, "--runtime", "off")


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """One default-mode emulator for the whole session (apps app_demo and app_other)."""
    emu = Emulator(tmp_path_factory.mktemp("emulator") / "state", *_with_runtime_default(()))
    with emu:
        yield emu


@pytest.fixture
def fresh_emulator(emulator: Emulator) -> Emulator:
    """The session emulator with no faults, an empty request log and the pipeline released."""
    emulator.reset()
    return emulator


@pytest.fixture
def emulator_factory(tmp_path: Path) -> Iterator[EmulatorFactory]:
    """``make(*extra_args)`` starts a dedicated emulator; all are stopped at teardown."""
    started: list[Emulator] = []

    def make(*extra_args: str, state_dir: Path | None = None, **kwargs: Any) -> Emulator:
        emu = Emulator(state_dir or tmp_path / f"state{len(started)}", *_with_runtime_default(extra_args), **kwargs)
        started.append(emu)
        return emu.start()

    yield make
    for emu in started:
        emu.stop()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """An empty GITHUB_WORKSPACE for one test."""
    path = tmp_path / "workspace"
    path.mkdir()
    return path
