"""`python -m bench`: run the benchmarks, write bench/results/<profile>.json and .md, print the table.

    python -m bench                 # the full run (make bench), about 5-7 minutes on 2 cores
    python -m bench --smoke         # every code path on tiny inputs, once (make bench-smoke, CI)
    python -m bench --only packaging,hash
    python -m bench --setup-podman  # also set podman up (slow the first time) to measure the image layer
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report, suites
from bench.core import ROOT, emulator, load_average, machine
from bench.profiles import FULL, SMOKE

ORDER = ("packaging", "hash", "upload", "ready", "e2e", "startup", "scale")
RESULTS = ROOT / "bench" / "results"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one repetition: checks that it all runs")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {', '.join(ORDER)}")
    parser.add_argument("--results", type=Path, default=None,
                        help="where to write <profile>.json and .md (default bench/results; the full profile's "
                             "files are latest.json and latest.md)")
    parser.add_argument("--workdir", type=Path, default=None, help="scratch folder (default: a new temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument("--setup-podman", action="store_true",
                        help="run scripts/container/setup-podman.sh first, so the image layer can be measured")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    profile = SMOKE if args.smoke else FULL
    selected = [name for name in ORDER if not args.only or name in args.only.split(",")]
    unknown = set(filter(None, args.only.split(","))) - set(ORDER)
    if unknown:
        print(f"unknown benchmark(s): {', '.join(sorted(unknown))}; choose from {', '.join(ORDER)}", file=sys.stderr)
        return 2
    missing = [tool for tool in ("zip", "curl", "sha256sum") if shutil.which(tool) is None]
    if missing:
        print(f"missing tools: {', '.join(missing)} (apt-get install {' '.join(missing)})", file=sys.stderr)
        return 2
    started = time.monotonic()

    def log(message: str) -> None:
        print(f"[bench {time.monotonic() - started:6.1f} s] {message}", file=sys.stderr, flush=True)

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bbed-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {
        "command": "python -m bench" + (" --smoke" if args.smoke else "") + (f" --only {args.only}" if args.only
                                                                               else ""),
        "profile": profile.name,
        "started_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "load_average_start": load_average(),
        "benchmarks": {},
        "targets": [],
        "errors": {},
    }
    log(f"profile {profile.name}, scratch {work}, benchmarks: {', '.join(selected)}")
    apps = [f"app_s{index:02d}" for index in range(profile.concurrent_deploys)]
    failed = False
    try:
        with emulator(work / "emulator-state", apps=(suites.APP, *apps)) as emu:
            ctx = suites.Context(profile, work, emu, log, setup_podman=args.setup_podman)
            runners = {
                "packaging": lambda: suites.packaging(ctx),
                "hash": lambda: suites.lockfile_hash(ctx),
                "upload": lambda: suites.upload(ctx),
                "ready": lambda: suites.ready_detection(ctx),
                "e2e": lambda: suites.end_to_end(ctx),
                "startup": lambda: suites.startup(ctx),
                "scale": lambda: suites.scale(ctx, apps),
            }
            for name in selected:
                bench_started = time.monotonic()
                try:
                    outcome = runners[name]()
                except Exception:  # one broken benchmark must not hide the others' numbers
                    failed = True
                    data["errors"][name] = traceback.format_exc()
                    log(f"{name} FAILED:\n{traceback.format_exc()}")
                    continue
                outcome["seconds"] = round(time.monotonic() - bench_started, 1)
                data["benchmarks"][name] = outcome
                data["targets"].extend(outcome["targets"])
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"kept {work}")
    data["load_average_end"] = load_average()
    data["duration_s"] = round(time.monotonic() - started, 1)
    out_dir = args.results or RESULTS
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = "latest" if profile is FULL and not args.only else profile.name if not args.only else f"{profile.name}-only"
    (out_dir / f"{stem}.json").write_text(json.dumps(data, indent=2) + "\n")
    text = report.markdown(data)
    (out_dir / f"{stem}.md").write_text(text + "\n")
    print(text)
    log(f"wrote {out_dir / (stem + '.json')} and {stem}.md in {data['duration_s']:.0f} s")
    if failed:
        return 1
    # Targets are reported, never asserted: a missed target is a finding, not a broken benchmark.
    return 0
