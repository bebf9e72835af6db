"""Flow B packaging: the project source, without dependencies, build output or VCS data.

Included: every file under working_directory, except
- any folder named node_modules, .git, .next or .vercel (at any depth), and the output_dir;
- what .gitignore files (the root one and nested ones) and a root .butterbaseignore exclude.
"""

from __future__ import annotations

import heapq
from pathlib import Path

import pathspec

from butterbase_edge_deploy.archive import Archive, Entry, write_zip
from butterbase_edge_deploy.errors import PackagingError
from butterbase_edge_deploy.tree import walk

MAX_SOURCE_BYTES = 52_428_800
ALWAYS_EXCLUDED = frozenset({"node_modules", ".git", ".next", ".vercel"})
IGNORE_FILES = (".gitignore", ".butterbaseignore")


class IgnoreRules:
    """gitignore semantics via pathspec, with each nested .gitignore applied relative to its folder."""

    def __init__(self, root: Path, output_dir: str) -> None:
        self._root = root
        self._output_dir = output_dir.strip("/")
        self._specs: dict[str, pathspec.GitIgnoreSpec | None] = {}

    def _spec_for(self, folder: str) -> pathspec.GitIgnoreSpec | None:
        if folder not in self._specs:
            lines: list[str] = []
            names = IGNORE_FILES if folder == "" else (".gitignore",)
            for name in names:
                path = self._root / folder / name
                if path.is_file():
                    lines.extend(path.read_text(encoding="utf-8", errors="replace").splitlines())
            self._specs[folder] = pathspec.GitIgnoreSpec.from_lines(lines) if lines else None
        return self._specs[folder]

    def excluded(self, relative: str, is_dir: bool) -> bool:
        parts = relative.split("/")
        if parts[-1] in ALWAYS_EXCLUDED or relative == self._output_dir:
            return True
        candidate = relative + "/" if is_dir else relative
        # Nearest .gitignore last, as git does: a deeper file can re-include what a higher one excluded.
        verdict = False
        for depth in range(len(parts)):
            folder = "/".join(parts[:depth])
            spec = self._spec_for(folder)
            if spec is None:
                continue
            inner = candidate[len(folder) + 1:] if folder else candidate
            result = spec.check_file(inner).include
            if result is not None:
                verdict = result
        return verdict


def select(root: Path, output_dir: str) -> list[Entry]:
    rules = IgnoreRules(root.resolve(), output_dir)
    return list(walk(root, rules.excluded, include_empty_dirs=True))


def package(root: Path, output_dir: str, destination: Path) -> tuple[Archive, list[Entry]]:
    entries = select(root, output_dir)
    if not any(e.name == "package.json" for e in entries):
        raise PackagingError("package.json is not in the packaged source (is it ignored?)",
                             "keep package.json at the root of working_directory and out of ignore files")
    raw_total = sum(e.size for e in entries)
    if raw_total > MAX_SOURCE_BYTES * 4:
        # Far over even at good compression: say so before spending minutes compressing.
        raise _too_large(raw_total, entries, "files")
    archive = write_zip(entries, destination)
    if archive.size > MAX_SOURCE_BYTES:
        raise _too_large(archive.size, entries, "zip")
    return archive, entries


def _too_large(size: int, entries: list[Entry], what: str) -> PackagingError:
    largest = heapq.nlargest(5, (e for e in entries if not e.is_dir), key=lambda e: e.size)
    listing = ", ".join(f"{e.name} ({e.size / 1024 / 1024:.1f} MiB)" for e in largest)
    return PackagingError(
        f"the source {what} is {size / 1024 / 1024:.1f} MiB, over Butterbase's 50 MiB limit; largest files: "
        f"{listing}", "exclude generated or large files in .butterbaseignore (gitignore syntax)")
