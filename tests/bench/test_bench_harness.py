"""The benchmark harness's own logic, without benchmarking anything (no timings are asserted here).

The harness itself runs in CI as `make bench-smoke` (every benchmark's code path on tiny inputs);
these checks cover what the smoke run cannot: that the generated trees are the same on every run,
and that the report renders from a results file such as the committed bench/results/latest.json.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import datasets, report
from bench.core import read_outputs, run

ROOT = Path(__file__).resolve().parents[2]


def test_generated_trees_are_the_same_on_every_run(tmp_path: Path) -> None:
    first = datasets.prebuilt_output(tmp_path / "a", files=80, total_bytes=600_000)
    second = datasets.prebuilt_output(tmp_path / "b", files=80, total_bytes=600_000)
    assert (first.files, first.bytes, first.digest) == (second.files, second.bytes, second.digest)
    assert first.files == 80 and abs(first.bytes - 600_000) < 60_000
    assert (tmp_path / "a" / "_worker.js" / "index.js").is_file()


def test_run_measures_a_child_not_its_parent() -> None:
    # The launcher keeps the parent's memory out of the child's peak RSS (a tiny `true` is not 30 MiB).
    sample = run(["true"])
    assert sample.code == 0 and sample.rss_mb < 20 and sample.wall > 0


def test_read_outputs_parses_the_runner_format() -> None:
    text = "status<<EOF_1\nREADY\nEOF_1\nurl<<EOF_2\nhttp://x\nEOF_2\n"
    assert read_outputs(text) == {"status": "READY", "url": "http://x"}


@pytest.mark.parametrize("name", ["latest.json"])
def test_the_committed_results_render(name: str) -> None:
    path = ROOT / "bench" / "results" / name
    if not path.exists():
        pytest.skip("no full run committed yet")
    text = report.markdown(json.loads(path.read_text()))
    assert "| Target | Measured | Target | Met |" in text and "Machine:" in text


def test_unknown_benchmark_is_refused() -> None:
    result = subprocess.run([sys.executable, "-m", "bench", "--only", "nope"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 2 and "unknown benchmark" in result.stderr


def test_recipe_is_valid_bash() -> None:
    subprocess.run(["bash", "-n", str(ROOT / "bench" / "recipe.sh")], check=True)
