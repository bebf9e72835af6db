"""Validate a deployment zip the way the server's ``extractWorker`` does, and unpack it.

The rules and messages come from the control-api's edge-SSR deployment service
(contract §5, §12.14): ``_worker.js`` as a root file, or ``_worker.js/index.js`` plus
modules; only ``.js``/``.mjs``/``.wasm`` under ``_worker.js/`` become modules (keys
relative to that folder), other files there are dropped; everything else is a
static asset; entry + modules at most 5 MiB uncompressed. The unpacked folder is
what the site listener (or the Workers runtime) serves.
"""

from __future__ import annotations

import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

MAX_WORKER_SCRIPT_SIZE_BYTES = 5 * 1024 * 1024
MODULE_EXTENSIONS = (".js", ".mjs", ".wasm")
WORKER = "_worker.js"
WORKER_DIR = "_worker.js/"
COPY_CHUNK = 1024 * 1024


class DeployError(Exception):
    """The pipeline's DeploymentError: ``message`` becomes the row's ``error``."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class ArtifactSummary:
    file_count: int = 0  # static assets only, worker files excluded
    total_size_bytes: int = 0  # worker + assets, uncompressed
    worker_script_size_bytes: int = 0  # entry + modules, uncompressed
    worker_script_module_count: int = 0  # 1 + additional modules
    layout: str = ""
    dropped: list[str] = field(default_factory=list)
    unsafe: list[str] = field(default_factory=list)


def normalize_zip_path(name: str) -> str:
    """normalizeZipPath: forward slashes, no leading slash."""
    return name.replace("\\", "/").lstrip("/")


def _js_kb(size: int, digits: int = 0) -> str:
    """Number.prototype.toFixed rounding (half away from zero), for byte-exact messages."""
    value = size / 1024
    scale = 10**digits
    rounded = int(value * scale + 0.5) / scale
    return f"{rounded:.{digits}f}"


def _safe_relative(path: str) -> PurePosixPath | None:
    parts = PurePosixPath(path).parts
    if not parts or any(p in ("..", "") for p in parts) or ":" in parts[0]:
        return None
    return PurePosixPath(*parts)


def open_zip(zip_path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile:
        # AdmZip's wording for a body that is not a zip at all.
        raise DeployError("Invalid or unsupported zip format. No END header found", "INVALID_ZIP") from None


def plan_zip(zf: zipfile.ZipFile) -> tuple[ArtifactSummary, zipfile.ZipInfo, dict[str, zipfile.ZipInfo],
                                            dict[str, zipfile.ZipInfo]]:
    """Classify the entries: (summary, entry script, modules by key, assets by path)."""
    infos = zf.infolist()
    if not infos:
        raise DeployError("Zip file contains no entries", "EMPTY_ZIP")
    files: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        if info.is_dir():
            continue
        path = normalize_zip_path(info.filename)
        if path:
            files[path] = info
    summary = ArtifactSummary()
    modules: dict[str, zipfile.ZipInfo] = {}
    if WORKER in files:
        entry = files[WORKER]
        assets = {p: i for p, i in files.items() if p != WORKER}
        summary.layout = "file"
    else:
        worker_files = {p: i for p, i in files.items() if p.startswith(WORKER_DIR)}
        if not worker_files:
            raise DeployError(
                "Zip is missing _worker.js — Edge SSR deployments must include a Cloudflare Workers script. "
                "Run `npx @cloudflare/next-on-pages` first.",
                "MISSING_WORKER_JS",
            )
        if f"{WORKER_DIR}index.js" not in worker_files:
            raise DeployError(
                "Zip has _worker.js/ directory but is missing _worker.js/index.js entry script.",
                "MISSING_WORKER_INDEX",
            )
        entry = worker_files[f"{WORKER_DIR}index.js"]
        for path, info in worker_files.items():
            if path == f"{WORKER_DIR}index.js":
                continue
            key = path[len(WORKER_DIR):]
            if "." in key and key[key.rindex("."):] in MODULE_EXTENSIONS:
                modules[key] = info
            else:
                summary.dropped.append(path)
        assets = {p: i for p, i in files.items() if not p.startswith(WORKER_DIR)}
        summary.layout = "directory"
    worker_size = entry.file_size + sum(i.file_size for i in modules.values())
    if worker_size > MAX_WORKER_SCRIPT_SIZE_BYTES:
        raise DeployError(
            f"Worker script exceeds 5 MB limit (got {_js_kb(worker_size)} KB)", "WORKER_TOO_LARGE"
        )
    summary.worker_script_size_bytes = worker_size
    summary.worker_script_module_count = 1 + len(modules)
    summary.file_count = len(assets)
    summary.total_size_bytes = worker_size + sum(i.file_size for i in assets.values())
    return summary, entry, modules, assets


def _copy_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with zf.open(info) as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst, COPY_CHUNK)


def unpack_artifact(zip_path: Path, dest: Path) -> ArtifactSummary:
    """Validate ``zip_path`` and write the deployable site (worker + modules + assets) to ``dest``.

    Entries whose normalised path would land outside ``dest`` are counted (the server
    counts them too) but never written. Symlink entries are written as plain files
    holding the link text, which is what the server's in-memory read sees.
    """
    with open_zip(zip_path) as zf:
        summary, entry, modules, assets = plan_zip(zf)
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        placed: list[tuple[str, zipfile.ZipInfo]] = []
        if summary.layout == "file":
            placed.append((WORKER, entry))
        else:
            placed.append((f"{WORKER_DIR}index.js", entry))
            placed.extend((f"{WORKER_DIR}{key}", info) for key, info in modules.items())
        placed.extend(assets.items())
        for path, info in placed:
            rel = _safe_relative(path)
            if rel is None:
                summary.unsafe.append(path)
                continue
            target = dest.joinpath(*rel.parts)
            if not target.resolve().is_relative_to(dest.resolve()):
                summary.unsafe.append(path)
                continue
            try:
                _copy_member(zf, info, target)
            except (IsADirectoryError, NotADirectoryError, FileExistsError):
                # A file and a folder with the same name: the server keeps both as
                # separate asset keys; a file system cannot, so the later one is skipped.
                summary.unsafe.append(path)
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise DeployError(f"Invalid or unsupported zip format: {exc}", "INVALID_ZIP") from exc
    return summary
