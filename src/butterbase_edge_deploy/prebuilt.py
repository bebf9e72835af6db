"""Flow A packaging: the *contents* of the build output folder, checked the way the server checks them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from butterbase_edge_deploy.archive import Archive, Entry, write_zip
from butterbase_edge_deploy.errors import InputError, PackagingError
from butterbase_edge_deploy.tree import walk

MAX_ZIP_BYTES = 104_857_600  # advertised by the server, enforced by nobody but us (contract §5)
MAX_WORKER_BYTES = 5 * 1024 * 1024  # entry plus modules, uncompressed (contract §8)
MAX_ASSET_BYTES = 25 * 1024 * 1024
FREE_PLAN_FILE_LIMIT = 20_000
WORKER = "_worker.js"
MODULE_SUFFIXES = (".js", ".mjs", ".wasm")


@dataclass(frozen=True)
class Layout:
    worker_is_folder: bool
    worker_bytes: int
    module_count: int
    asset_count: int
    dropped: list[str]


def has_worker(folder: Path) -> bool:
    """What `flow: auto` asks: is there a built output to deploy?"""
    worker = folder / WORKER
    return worker.is_file() or (worker / "index.js").is_file()


def check_output_dir(folder: Path, shown: str) -> None:
    if not folder.exists():
        hint = ""
        if shown.endswith(".vercel/output/static"):
            hint = "run `npx @cloudflare/next-on-pages` first, or "
        raise InputError("output_dir", f"'{shown}' does not exist",
                         f"{hint}build before deploying, set output_dir to your build output, "
                         "or use flow: source to build on Butterbase")
    if not folder.is_dir():
        raise InputError("output_dir", f"'{shown}' is not a folder", "point it at the build output folder")
    worker = folder / WORKER
    if worker.is_dir() and not (worker / "index.js").is_file():
        raise InputError("output_dir", f"'{shown}/{WORKER}' is a folder without index.js",
                         "rebuild; next-on-pages writes _worker.js/index.js as the entry point")
    if not has_worker(folder):
        if (folder / "static" / WORKER).exists():
            raise InputError("output_dir", f"'{shown}' is the parent of the deployable folder",
                             f"set output_dir to {shown.rstrip('/')}/static")
        raise InputError("output_dir", f"'{shown}' has no {WORKER} (file or folder with index.js)",
                         "point output_dir at the Workers output (next-on-pages: .vercel/output/static)")


def package(folder: Path, shown: str, destination: Path) -> tuple[Archive, Layout]:
    check_output_dir(folder, shown)
    entries = list(walk(folder, lambda _name, _is_dir: False, include_empty_dirs=False))
    layout = inspect(entries)
    if layout.worker_bytes > MAX_WORKER_BYTES:
        raise PackagingError(
            f"the worker ({WORKER} and its modules) is {_mib(layout.worker_bytes)}, over Butterbase's 5 MiB "
            "limit", "reduce server bundle size (fewer or lighter server dependencies, more edge-free pages)")
    for entry in entries:
        if not entry.name.startswith(WORKER) and entry.size > MAX_ASSET_BYTES:
            raise PackagingError(f"static file '{entry.name}' is {_mib(entry.size)}, over the 25 MiB per-file "
                                 "limit", "serve large files from object storage instead")
    archive = write_zip(entries, destination)
    if archive.size > MAX_ZIP_BYTES:
        raise PackagingError(f"the zip is {_mib(archive.size)}, over Butterbase's 100 MiB limit",
                             "remove large static files from the output")
    return archive, layout


def inspect(entries: list[Entry]) -> Layout:
    worker_bytes = 0
    modules = 0
    assets = 0
    dropped = []
    folder_layout = any(e.name.startswith(WORKER + "/") for e in entries)
    for entry in entries:
        if entry.name == WORKER:
            worker_bytes += entry.size
            modules += 1
        elif entry.name.startswith(WORKER + "/"):
            if entry.name.endswith(MODULE_SUFFIXES):
                worker_bytes += entry.size
                modules += 1
            else:
                dropped.append(entry.name)  # the server silently ignores these (e.g. .map)
        else:
            assets += 1
    return Layout(folder_layout, worker_bytes, modules, assets, dropped)


def _mib(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MiB"
