from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def nextjs_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/nextjs-edge built for real with next-on-pages, once per test session."""
    app = tmp_path_factory.mktemp("nextjs-edge")
    result = subprocess.run(["bash", str(ROOT / "scripts/build-nextjs-example.sh"), str(app)],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    print(result.stderr[-600:])  # the step times, shown with -s
    assert (app / ".vercel/output/static/_worker.js/index.js").is_file()
    return app


@pytest.fixture(scope="session")
def serving_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """An emulator that runs deployed workers in workerd (Miniflare), as the real service would."""
    from emulator_harness import Emulator

    with Emulator(tmp_path_factory.mktemp("serving") / "state", "--runtime", "auto",
                  "--app", "app_next", "--app", "app_nextsrc") as emulator:
        yield emulator
