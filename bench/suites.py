"""The benchmarks. Each takes the run's Context and returns its measurements and its targets.

Every comparison alternates the two contenders (A B, B A, ...) after one unmeasured warm-up run of
each, so that both see the same page cache and the same background load, and reports medians.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import shutil
import subprocess
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import cached_property
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

from bench import datasets
from bench.core import (
    PYTHON,
    ROOT,
    BenchError,
    Sample,
    alternate,
    create_deployment,
    deploy_inputs,
    median,
    run,
    run_action,
    summary,
)
from bench.profiles import MIB, Profile

REAL_EXAMPLE = ROOT / "examples" / "nextjs-edge" / ".vercel" / "output" / "static"
RECIPE = ROOT / "bench" / "recipe.sh"
APP = "app_bench"
SEED = 20240601

Log = Callable[[str], None]


def target(key: str, label: str, value: float, op: str, limit: float, unit: str, note: str = "") -> dict[str, Any]:
    met = value <= limit if op == "<=" else value >= limit
    return {"key": key, "label": label, "value": round(value, 3), "op": op, "limit": limit, "unit": unit,
            "met": bool(met), "note": note}


class Context:
    def __init__(self, profile: Profile, work: Path, emu: Any, log: Log, *, setup_podman: bool = False) -> None:
        self.profile = profile
        self.work = work
        self.emu = emu
        self.log = log
        self.setup_podman = setup_podman
        self.rng = random.Random(SEED)

    def scratch(self, name: str) -> Path:
        path = self.work / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def child_env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("INPUT_", "GITHUB_", "BUTTERBASE_"))}
        env["TMPDIR"] = str(self.scratch("tmp"))  # the CLI's temporary zip is then renamed, not copied
        env.update(extra)
        return env

    @cached_property
    def prebuilt(self) -> datasets.TreeInfo:
        started = time.monotonic()
        info = datasets.prebuilt_output(self.work / "prebuilt" / "out", files=self.profile.prebuilt_files,
                                        total_bytes=self.profile.prebuilt_bytes)
        self.log(f"generated the large output: {info.files} files, {info.bytes / MIB:.1f} MiB "
                 f"in {time.monotonic() - started:.1f} s")
        return info

    @cached_property
    def source(self) -> Path:
        root = self.work / "source" / "app"
        datasets.source_tree(root, files=self.profile.source_files, total_bytes=self.profile.source_bytes)
        return root

    @cached_property
    def real_example(self) -> Path:
        """A copy of the committed next-on-pages output inside a workspace of its own."""
        if not (REAL_EXAMPLE / "_worker.js").exists():
            raise BenchError(f"{REAL_EXAMPLE} is missing: the real example is part of the repository")
        workspace = self.work / "real" / "ws"
        shutil.copytree(REAL_EXAMPLE, workspace / "out", symlinks=True, dirs_exist_ok=True)
        return workspace


# -- 1. packaging ---------------------------------------------------------------------------------

def _sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _zip_stats(path: Path) -> dict[str, int]:
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
    files = [i for i in infos if not i.is_dir()]
    return {"entries": len(infos), "files": len(files), "raw_bytes": sum(i.file_size for i in files),
            "zip_bytes": path.stat().st_size}


# Our packager in a fresh process: the interpreter, the packaging modules, the walk, the zip. The
# command line's other imports (requests, ...) are start-up costs the Action pays once whatever it
# does; the start-up benchmark has them, and `package_cli` below shows the whole command for reference.
_PACKAGE_SNIPPET = """
import sys
from pathlib import Path
from butterbase_edge_deploy import prebuilt, source
flow, folder, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
if flow == "prebuilt":
    prebuilt.package(folder, folder.name, out)
else:
    source.package(folder, "dist", out)
"""


def package_command(flow: str, folder: Path, out: Path) -> list[str]:
    return [PYTHON, "-c", _PACKAGE_SNIPPET, flow, str(folder), str(out)]


def packaging(ctx: Context) -> dict[str, Any]:
    profile = ctx.profile
    ctx.prebuilt  # noqa: B018 - generate before timing anything
    cases = {
        "prebuilt": {
            "folder": ctx.work / "prebuilt" / "out",
            "cli": ["--flow", "prebuilt", "--working-directory", str(ctx.work / "prebuilt"), "--output-dir", "out"],
            "zip_args": ["."],
        },
        "source": {
            "folder": ctx.source,
            "cli": ["--flow", "source", "--working-directory", str(ctx.source), "--output-dir", "dist"],
            # What our packager leaves out of this tree (its .gitignore: node_modules, .next, *.log).
            "zip_args": [".", "-x", "node_modules/*", ".git/*", ".next/*", "*.log"],
        },
    }
    results: dict[str, Any] = {}
    targets = []
    out_dir = ctx.scratch("packaging")
    for name, case in cases.items():
        ours_zip = out_dir / f"{name}-ours.zip"
        zip_zip = out_dir / f"{name}-zip.zip"
        digests: list[str] = []

        def ours(_rep: int, name: str = name, case: dict[str, Any] = case, ours_zip: Path = ours_zip,
                 digests: list[str] = digests) -> Sample:
            ours_zip.unlink(missing_ok=True)
            sample = run(package_command(name, case["folder"], ours_zip), env=ctx.child_env())
            digests.append(_sha256(ours_zip))
            return sample

        def zip_r(_rep: int, case: dict[str, Any] = case, zip_zip: Path = zip_zip) -> Sample:
            zip_zip.unlink(missing_ok=True)
            return run(["zip", "-r", "-q", "-6", str(zip_zip), *case["zip_args"]], cwd=case["folder"])

        ours(-1)
        zip_r(-1)  # warm-up: page cache, interpreter files
        runs = alternate(profile.packaging_reps, {"ours": ours, "zip": zip_r})
        cli_zip = out_dir / f"{name}-cli.zip"  # once, for reference: the whole command-line command
        command = [PYTHON, "-m", "butterbase_edge_deploy", "package", *case["cli"], "--out", str(cli_zip)]
        cli_runs = [run(command, env=ctx.child_env())]
        digests.append(_sha256(cli_zip))
        ours_stats, zip_stats = summary(runs["ours"]), summary(runs["zip"])
        ratio = ours_stats["wall_median_s"] / zip_stats["wall_median_s"]
        results[name] = {
            "ours": ours_stats, "zip": zip_stats, "time_ratio": round(ratio, 3),
            "cpu_ratio": round(ours_stats["cpu_median_s"] / max(zip_stats["cpu_median_s"], 1e-9), 3),
            "package_cli": summary(cli_runs),
            "ours_zip": _zip_stats(ours_zip), "zip_zip": _zip_stats(zip_zip),
            "deterministic": len(set(digests)) == 1, "ours_sha256": digests[0][:16],
            "samples": {k: [s.brief() for s in v] for k, v in runs.items()},
        }
        ctx.log(f"packaging {name}: ours {ours_stats['wall_median_s']:.2f} s / zip {zip_stats['wall_median_s']:.2f} s"
                f" = {ratio:.2f}; peak RSS {ours_stats['rss_max_mb']:.0f} MiB; CLI package "
                f"{results[name]['package_cli']['wall_median_s']:.2f} s; deterministic {len(set(digests)) == 1}")
        targets.append(target(f"packaging_{name}_time_ratio", f"Packaging ({name}): time ours / zip -r -6", ratio,
                              "<=", 1.0, "x"))
        targets.append(target(f"packaging_{name}_rss", f"Packaging ({name}): peak RSS", ours_stats["rss_max_mb"],
                              "<=", 80, "MiB"))
    results["prebuilt"]["tree"] = ctx.prebuilt.as_dict()
    return {"results": results, "targets": targets}


# -- 2. lockfile hash -------------------------------------------------------------------------------

_HASH_SNIPPET = """
import json, sys, time
from pathlib import Path
started = time.perf_counter()
from butterbase_edge_deploy.lockfile import detect
found = detect(Path(sys.argv[1]))
print(json.dumps({"sha256": found.sha256, "name": found.path.name}))
"""


def lockfile_hash(ctx: Context) -> dict[str, Any]:
    profile = ctx.profile
    project = ctx.scratch("lockfile")
    (project / "package.json").write_text('{"name": "bench"}\n')
    lock = project / "package-lock.json"
    datasets.big_file(lock, profile.lockfile_bytes)
    seen: dict[str, set[str]] = {"ours": set(), "sha256sum": set()}

    def ours(_rep: int) -> Sample:
        sample = run([PYTHON, "-c", _HASH_SNIPPET, str(project)], env=ctx.child_env())
        seen["ours"].add(json.loads(sample.stdout)["sha256"])
        return sample

    def sha256sum(_rep: int) -> Sample:
        sample = run(["sha256sum", str(lock)])
        seen["sha256sum"].add(sample.stdout.split()[0])
        return sample

    ours(-1)
    sha256sum(-1)
    runs = alternate(profile.hash_reps, {"ours": ours, "sha256sum": sha256sum})
    size_mb = lock.stat().st_size / MIB
    ours_stats, ref_stats = summary(runs["ours"]), summary(runs["sha256sum"])
    ours_tp = size_mb / ours_stats["wall_median_s"]
    ref_tp = size_mb / ref_stats["wall_median_s"]
    same = len(seen["ours"]) == 1 and seen["ours"] == seen["sha256sum"]
    if not same:
        raise BenchError(f"lockfile hashes differ: {seen}")
    ctx.log(f"lockfile hash: ours {ours_tp:.0f} MiB/s, sha256sum {ref_tp:.0f} MiB/s = {ours_tp / ref_tp:.2f}")
    return {
        "results": {"file_mib": round(size_mb, 1), "ours": ours_stats, "sha256sum": ref_stats,
                    "ours_mib_s": round(ours_tp, 1), "sha256sum_mib_s": round(ref_tp, 1),
                    "throughput_ratio": round(ours_tp / ref_tp, 3), "same_digest": same},
        "targets": [target("hash_throughput_ratio", "Lockfile hash: throughput ours / sha256sum (whole process)",
                           ours_tp / ref_tp, ">=", 0.9, "x")],
    }


# -- 3. upload --------------------------------------------------------------------------------------

_UPLOAD_SNIPPET = """
import json, sys
from pathlib import Path
from butterbase_edge_deploy.upload import put_zip
seconds = put_zip(sys.argv[1], Path(sys.argv[2]), lambda done, total: None)
print(json.dumps({"seconds": seconds}))
"""


def upload(ctx: Context) -> dict[str, Any]:
    profile = ctx.profile
    folder = ctx.scratch("upload")
    payload = folder / "payload.zip"
    small = folder / "small.zip"
    datasets.big_file(payload, profile.upload_bytes, seed=5)
    datasets.big_file(small, profile.upload_small_bytes, seed=6)
    transfer: dict[str, list[float]] = {"ours": [], "curl": []}

    def ours_put(path: Path, record: bool = True) -> Sample:
        _, url = create_deployment(ctx.emu, APP)
        sample = run([PYTHON, "-c", _UPLOAD_SNIPPET, url, str(path)], env=ctx.child_env())
        if record:
            transfer["ours"].append(json.loads(sample.stdout)["seconds"])
        return sample

    def curl_put(path: Path, record: bool = True) -> Sample:
        _, url = create_deployment(ctx.emu, APP)
        sample = run(["curl", "-sS", "-f", "-o", "/dev/null", "-w", "%{time_total}", "-T", str(path),
                      "-H", "Content-Type: application/zip", "-H", "Expect:", url])
        if record:
            transfer["curl"].append(float(sample.stdout.strip().replace(",", ".")))
        return sample

    ours_put(payload, record=False)
    curl_put(payload, record=False)
    runs = alternate(profile.upload_reps, {"ours": lambda _r: ours_put(payload), "curl": lambda _r: curl_put(payload)})
    small_runs = [ours_put(small, record=False) for _ in range(max(1, min(3, profile.upload_reps)))]
    size_mb = payload.stat().st_size / MIB
    ours_tp = size_mb / median(transfer["ours"])
    curl_tp = size_mb / median(transfer["curl"])
    ours_stats, curl_stats = summary(runs["ours"]), summary(runs["curl"])
    rss_large = ours_stats["rss_max_mb"]
    rss_small = summary(small_runs)["rss_max_mb"]
    ctx.log(f"upload: ours {ours_tp:.0f} MiB/s, curl {curl_tp:.0f} MiB/s = {ours_tp / curl_tp:.2f}; RSS "
            f"{rss_small:.0f} MiB for {profile.upload_small_bytes / MIB:.0f} MiB, {rss_large:.0f} MiB for "
            f"{size_mb:.0f} MiB")
    return {
        "results": {
            "payload_mib": round(size_mb, 1), "ours_transfer_s": [round(x, 4) for x in transfer["ours"]],
            "curl_transfer_s": [round(x, 4) for x in transfer["curl"]], "ours_mib_s": round(ours_tp, 1),
            "curl_mib_s": round(curl_tp, 1), "throughput_ratio": round(ours_tp / curl_tp, 3),
            "ours_process": ours_stats, "curl_process": curl_stats,
            "process_wall_ratio": round(ours_stats["wall_median_s"] / curl_stats["wall_median_s"], 3),
            "ours_rss_small_mb": rss_small, "ours_rss_large_mb": rss_large,
            "small_payload_mib": round(profile.upload_small_bytes / MIB, 2),
        },
        "targets": [
            target("upload_throughput_ratio", "Upload: throughput ours / curl -T (transfer time)", ours_tp / curl_tp,
                   ">=", 0.9, "x"),
            target("upload_rss_growth", f"Upload: peak RSS growth, {profile.upload_small_bytes / MIB:.0f} MiB -> "
                   f"{size_mb:.0f} MiB payload", rss_large - rss_small, "<=", 5, "MiB"),
        ],
    }


# -- 4. READY detection -----------------------------------------------------------------------------

def _ready_at(emu: Any, deployment_id: str) -> float:
    row = emu.admin_deployment(deployment_id)
    moments = [event["at"] for event in row.get("status_history", []) if event["status"] == "READY"]
    stamp = moments[0] if moments else row["status_changed_at"]
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def ready_detection(ctx: Context) -> dict[str, Any]:
    profile = ctx.profile
    workspace = ctx.real_example
    files = ctx.scratch("ready-files")
    latencies = []
    walls = []
    for rep in range(profile.ready_reps):
        # Hold the pipeline before READY and let it go at a seeded random moment, so READY falls at any
        # point of the Action's polling rhythm (a real deploy takes seconds, not milliseconds).
        delay = ctx.rng.uniform(*profile.ready_delay)
        ctx.emu.hold_pipeline(True, "BUILDING")
        release = threading.Timer(delay, ctx.emu.hold_pipeline, (False,))
        release.start()
        try:
            sample, outputs = run_action(workspace, files / str(rep),
                                         deploy_inputs(ctx.emu.url, ctx.emu.api_key, APP, "out"))
        finally:
            release.cancel()
            ctx.emu.hold_pipeline(False)
        if outputs.get("status") != "READY":
            raise BenchError(f"READY detection run {rep}: status {outputs.get('status')}\n{sample.stdout}")
        latencies.append(sample.exited_at - _ready_at(ctx.emu, outputs["deployment_id"]))
        walls.append(sample.wall)
    value = median(latencies)
    ctx.log(f"READY detection: median {value:.2f} s, max {max(latencies):.2f} s over {len(latencies)} runs")
    return {
        "results": {"latency_s": [round(x, 3) for x in latencies], "median_s": round(value, 3),
                    "max_s": round(max(latencies), 3), "min_s": round(min(latencies), 3),
                    "release_delay_s": list(profile.ready_delay), "action_wall_median_s": round(median(walls), 3)},
        "targets": [target("ready_latency", "READY detection: emulator READY -> Action exited (median)", value,
                           "<=", 1.0, "s")],
    }


# -- 5. end to end ----------------------------------------------------------------------------------

def end_to_end(ctx: Context) -> dict[str, Any]:
    profile = ctx.profile
    cases = {"real": (ctx.real_example, profile.e2e_real_reps)}
    ctx.prebuilt  # noqa: B018
    cases["large"] = (ctx.work / "prebuilt", profile.e2e_large_reps)
    results: dict[str, Any] = {}
    targets = []
    for name, (workspace, reps) in cases.items():
        files = ctx.scratch(f"e2e-{name}")
        counter = iter(range(10_000))

        def action(_rep: int, workspace: Path = workspace, files: Path = files, counter: Iterator[int] = counter,
                   name: str = name) -> Sample:
            sample, outputs = run_action(workspace, files / str(next(counter)),
                                         deploy_inputs(ctx.emu.url, ctx.emu.api_key, APP, "out"))
            if outputs.get("status") != "READY":
                raise BenchError(f"e2e {name}: the action ended {outputs.get('status')}\n{sample.stdout}")
            return sample

        def recipe(_rep: int, workspace: Path = workspace) -> Sample:
            env = ctx.child_env(API_URL=ctx.emu.url, API_KEY=ctx.emu.api_key, APP_ID=APP,
                                OUTPUT_DIR=str(workspace / "out"), POLL_SECONDS=str(profile.recipe_poll_seconds))
            return run(["bash", str(RECIPE)], env=env)

        runs = alternate(reps, {"action": action, "recipe": recipe})
        ours, theirs = summary(runs["action"]), summary(runs["recipe"])
        ratio = ours["wall_median_s"] / theirs["wall_median_s"]
        results[name] = {"action": ours, "recipe": theirs, "time_ratio": round(ratio, 3),
                         "samples": {k: [s.brief() for s in v] for k, v in runs.items()}}
        ctx.log(f"end to end {name}: action {ours['wall_median_s']:.2f} s / recipe {theirs['wall_median_s']:.2f} s"
                f" = {ratio:.2f}")
        if name == "real":
            targets.append(target("e2e_real_ratio", "End to end, real next-on-pages example: wall ours / recipe",
                                  ratio, "<=", 0.5, "x"))
    results["recipe_poll_seconds"] = profile.recipe_poll_seconds
    return {"results": results, "targets": targets}


# -- 6. start-up ------------------------------------------------------------------------------------

class _FirstRequest(BaseHTTPRequestHandler):
    """Notes when each request arrives; answers the list route, refuses everything else (401)."""

    hits: ClassVar[list[tuple[float, str, str]]] = []

    def _answer(self) -> None:
        type(self).hits.append((time.time(), self.command, self.path))
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.command == "GET" and self.path.endswith("/edge-ssr/deployments"):
            status, body = 200, {"deployments": []}
        else:
            status, body = 401, {"error": {"code": "AUTH_INVALID_API_KEY", "message": "Invalid API key",
                                           "remediation": "bench: start-up probe"}}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, *_args: Any) -> None:
        pass


@contextlib.contextmanager
def _probe_server() -> Iterator[tuple[str, list[tuple[float, str, str]]]]:
    hits: ClassVar[list[tuple[float, str, str]]] = []
    handler = type("Probe", (_FirstRequest,), {"hits": hits})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()


def startup(ctx: Context) -> dict[str, Any]:
    profile = ctx.profile
    workspace = ctx.real_example
    files = ctx.scratch("startup-files")
    results: dict[str, Any] = {}
    targets = []
    with _probe_server() as (url, hits):
        variants = {
            "list": {"flow": "list"},
            "prebuilt": {"flow": "prebuilt", "output_dir": "out"},  # packages the real example first
        }
        for name, extra in variants.items():
            delays = []
            for rep in range(profile.startup_reps + 1):
                mark = len(hits)
                inputs = deploy_inputs(url, ctx.emu.api_key, APP, "out")
                inputs.update(extra)
                sample, _ = run_action(workspace, files / f"{name}-{rep}", inputs, check=False)
                if len(hits) <= mark:
                    raise BenchError(f"start-up {name}: the action sent no request\n{sample.stdout}\n{sample.stderr}")
                if rep:  # the first run warms the page cache
                    delays.append(hits[mark][0] - sample.spawned_at)
            value = median(delays)
            results[name] = {"first_request_s": [round(x, 4) for x in delays], "median_s": round(value, 4),
                             "max_s": round(max(delays), 4)}
            ctx.log(f"start-up ({name}): median {value * 1000:.0f} ms to the first request")
        targets.append(target("startup_first_request", "Start-up: process start -> first HTTP request (flow list)",
                              results["list"]["median_s"] * 1000, "<=", 300, "ms"))
    results["import_profile"] = _import_profile()
    image_result = container_image(ctx)
    results["image"] = image_result
    if image_result.get("measured"):
        targets.append(target("image_layer", "Container image: size added on top of the base",
                              image_result["added_mb"], "<=", 20, "MB"))
    return {"results": results, "targets": targets}


def _import_profile() -> list[dict[str, Any]]:
    """The heaviest imports of the Action's entry module (cumulative microseconds, from -X importtime)."""
    result = subprocess.run([PYTHON, "-X", "importtime", "-c", "import butterbase_edge_deploy.action"],
                            capture_output=True, text=True, timeout=60, check=False)
    rows = []
    for line in result.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            name = parts[2].rstrip()
            depth = (len(name) - len(name.lstrip())) // 2
            rows.append({"module": name.strip(), "cumulative_ms": int(parts[1]) / 1000, "depth": depth})
    top = [r for r in rows if r["depth"] <= 2]
    return sorted(top, key=lambda r: -r["cumulative_ms"])[:8]


def _podman_env() -> dict[str, str] | None:
    home = os.environ.get("BBED_CONTAINER_HOME", "/var/tmp/bbed-containers")
    conf, storage = Path(home) / "containers.conf", Path(home) / "storage.conf"
    if not conf.exists() or not storage.exists():
        return None
    return {**os.environ, "BBED_CONTAINER_HOME": home, "CONTAINERS_CONF": str(conf),
            "CONTAINERS_STORAGE_CONF": str(storage)}


def container_image(ctx: Context) -> dict[str, Any]:
    """The layer our Dockerfile adds on top of python:3.12-slim, when podman is set up on this machine."""
    if shutil.which("podman") is None and not ctx.setup_podman:
        return {"measured": False, "why": "podman is not installed (bash scripts/container/setup-podman.sh)"}
    if ctx.setup_podman:
        ctx.log("setting up podman (scripts/container/setup-podman.sh)")
        subprocess.run(["bash", str(ROOT / "scripts" / "container" / "setup-podman.sh")], check=True,
                       stdout=subprocess.DEVNULL, timeout=900)
    env = _podman_env()
    base = "localhost/python:3.12-slim"
    if env is None or subprocess.run(["podman", "image", "exists", base], env=env, check=False,
                                     capture_output=True).returncode != 0:
        return {"measured": False, "why": "podman is not set up here (no base image): run "
                "`bash scripts/container/setup-podman.sh` or `python -m bench --setup-podman`"}
    tag = "localhost/butterbase-edge-deploy:bench"
    started = time.monotonic()
    build = subprocess.run(["podman", "build", "--quiet", "-t", tag, "-f", str(ROOT / "Dockerfile"), str(ROOT)],
                           env=env, capture_output=True, text=True, timeout=900, check=False)
    if build.returncode != 0:
        return {"measured": False, "why": f"podman build failed: {build.stderr.strip()[-500:]}"}
    build_s = time.monotonic() - started

    def size(image: str) -> int:
        out = subprocess.run(["podman", "image", "inspect", "--format", "{{.Size}}", image], env=env,
                             capture_output=True, text=True, check=True).stdout
        return int(out.strip())

    history = subprocess.run(["podman", "history", "--format", "{{.Size}}\t{{.CreatedBy}}", tag], env=env,
                             capture_output=True, text=True, check=False).stdout.splitlines()
    base_size, image_size = size(base), size(tag)
    added = (image_size - base_size) / 1e6
    base_note = subprocess.run(["podman", "image", "inspect", "--format",
                                '{{index .Labels "org.opencontainers.image.description"}}', base], env=env,
                               capture_output=True, text=True, check=False).stdout.strip()
    ctx.log(f"container image: {added:.1f} MB on top of {base} ({base_size / 1e6:.0f} MB)")
    return {"measured": True, "image": tag, "base": base, "base_description": base_note or "python:3.12-slim",
            "base_mb": round(base_size / 1e6, 1), "image_mb": round(image_size / 1e6, 1),
            "added_mb": round(added, 2), "build_s": round(build_s, 1),
            "layers": [line.split("\t", 1) for line in history[:6]]}


# -- 7. scale ---------------------------------------------------------------------------------------

def _vm_hwm_mb(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def scale(ctx: Context, apps: list[str]) -> dict[str, Any]:
    profile = ctx.profile
    results: dict[str, Any] = {}
    targets = []

    # (a) many deploys at once, one app each (deploys to one app would supersede each other)
    workspace = ctx.real_example
    files = ctx.scratch("scale-concurrent")
    count = min(profile.concurrent_deploys, len(apps))

    def one(index: int) -> tuple[Sample, dict[str, str]]:
        inputs = deploy_inputs(ctx.emu.url, ctx.emu.api_key, apps[index], "out")
        return run_action(workspace, files / str(index), inputs, check=False, timeout=600)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=count) as pool:
        done = list(pool.map(one, range(count)))
    total = time.monotonic() - started
    ready = sum(1 for _, outputs in done if outputs.get("status") == "READY")
    walls = [s.wall for s, _ in done]
    rss = [s.rss_mb for s, _ in done]
    failures = [f"{o.get('status')}: {s.stdout[-300:]}" for s, o in done if o.get("status") != "READY"][:3]
    results["concurrent"] = {
        "deploys": count, "ready": ready, "total_wall_s": round(total, 2),
        "deploy_wall_median_s": round(median(walls), 2), "deploy_wall_max_s": round(max(walls), 2),
        "rss_max_mb": round(max(rss), 1), "rss_sum_mb": round(sum(rss), 1),
        "emulator_peak_rss_mb": _vm_hwm_mb(ctx.emu.pid), "failures": failures,
    }
    ctx.log(f"scale: {ready}/{count} concurrent deploys READY in {total:.1f} s (each {median(walls):.1f} s median, "
            f"{max(walls):.1f} s max; peak RSS {max(rss):.0f} MiB each)")
    targets.append(target("scale_concurrent", f"Scale: {count} concurrent deploys READY", ready, ">=", count,
                          "deploys"))

    # (b) growth with the number of files
    growth = []
    for files_count in profile.scale_file_counts:
        root = ctx.work / "scale" / str(files_count)
        started = time.monotonic()
        info = datasets.flat_output(root / "out", files=files_count)
        generated = time.monotonic() - started
        out = ctx.scratch("scale-zips")

        def ours(_rep: int, root: Path = root, out: Path = out) -> Sample:
            (out / "ours.zip").unlink(missing_ok=True)
            return run(package_command("prebuilt", root / "out", out / "ours.zip"), env=ctx.child_env())

        def zip_r(_rep: int, root: Path = root, out: Path = out) -> Sample:
            (out / "zip.zip").unlink(missing_ok=True)
            return run(["zip", "-r", "-q", "-6", str(out / "zip.zip"), "."], cwd=root / "out")

        ours(-1)
        zip_r(-1)
        runs = alternate(profile.scale_reps, {"ours": ours, "zip": zip_r})
        deploy, outputs = run_action(root, ctx.scratch(f"scale-deploy-{files_count}"),
                                     deploy_inputs(ctx.emu.url, ctx.emu.api_key, APP, "out"), check=False)
        row = {
            "files": info.files, "raw_mib": round(info.bytes / MIB, 1), "generate_s": round(generated, 1),
            "package": summary(runs["ours"]), "zip": summary(runs["zip"]),
            "deploy_wall_s": round(deploy.wall, 2), "deploy_rss_mb": round(deploy.rss_mb, 1),
            "deploy_status": outputs.get("status", "?"),
        }
        growth.append(row)
        ctx.log(f"scale {info.files} files: package {row['package']['wall_median_s']:.2f} s "
                f"({row['package']['rss_max_mb']:.0f} MiB), zip {row['zip']['wall_median_s']:.2f} s, deploy "
                f"{deploy.wall:.1f} s ({deploy.rss_mb:.0f} MiB) {row['deploy_status']}")
        shutil.rmtree(root, ignore_errors=True)
    results["growth"] = growth
    largest = growth[-1]
    targets.append(target("scale_rss", f"Scale: packaging peak RSS at {largest['files']:,} files",
                          largest["package"]["rss_max_mb"], "<=", 80, "MiB"))
    if len(growth) >= 2:
        first, last = growth[0], growth[-1]
        per_file = (last["package"]["wall_median_s"] - first["package"]["wall_median_s"]) / max(
            1, last["files"] - first["files"])
        results["package_ms_per_1000_files"] = round(per_file * 1000 * 1000, 1)
        results["package_rss_mb_per_10000_files"] = round(
            (last["package"]["rss_max_mb"] - first["package"]["rss_max_mb"]) / max(1, last["files"] - first["files"])
            * 10_000, 2)
    return {"results": results, "targets": targets}
