"""Walking a folder for packaging: symlink rules and file selection shared by both flows.

Nothing outside the root is ever packaged: a symlink is followed only when its target stays
inside the root, and a dangling, looping or escaping one is an error that names it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

from butterbase_edge_deploy.archive import Entry, checked_name
from butterbase_edge_deploy.errors import PackagingError

# (relative path with "/", is_dir) -> True to leave it out (a folder is then not entered)
Exclude = Callable[[str, bool], bool]


def walk(root: Path, exclude: Exclude, *, include_empty_dirs: bool) -> Iterator[Entry]:
    root = root.resolve()
    yield from _walk_dir(root, root, "", exclude, include_empty_dirs, {root})


def _walk_dir(root: Path, real_dir: Path, prefix: str, exclude: Exclude, include_empty_dirs: bool,
              active: set[Path]) -> Iterator[Entry]:
    try:
        names = sorted(os.listdir(real_dir))
    except OSError as exc:
        raise PackagingError(f"cannot list folder '{prefix or '.'}': {exc.strerror}",
                             "make it readable by the runner user, or exclude it") from None
    for name in names:
        relative = checked_name(f"{prefix}{name}")
        path = real_dir / name
        try:
            info = os.lstat(path)
        except OSError as exc:
            raise PackagingError(f"cannot read '{relative}': {exc.strerror}", "fix or exclude it") from None
        target = path
        if stat.S_ISLNK(info.st_mode):
            target, info = _follow(root, path, relative)
        is_dir = stat.S_ISDIR(info.st_mode)
        if exclude(relative, is_dir):
            continue
        if is_dir:
            if target in active:
                raise PackagingError(f"symlink '{relative}' makes a loop",
                                     "remove the link or exclude it in .butterbaseignore")
            yield from _walk_dir(root, target, relative + "/", exclude, include_empty_dirs, active | {target})
        elif stat.S_ISREG(info.st_mode):
            if not os.access(target, os.R_OK):
                raise PackagingError(f"cannot read '{relative}': permission denied",
                                     "make it readable by the runner user, or exclude it")
            yield Entry(relative, target, info.st_size, stat.S_IMODE(info.st_mode))
        # sockets, fifos and devices are not files a deploy can carry: skipped silently
    if not names and include_empty_dirs and prefix:
        yield Entry(prefix.rstrip("/"), real_dir, 0, 0o755, is_dir=True)


def _follow(root: Path, link: Path, relative: str) -> tuple[Path, os.stat_result]:
    try:
        target = link.resolve(strict=True)
    except FileNotFoundError:
        raise PackagingError(f"symlink '{relative}' points at nothing (dangling)",
                             "remove the link or exclude it") from None
    except (RuntimeError, OSError):
        raise PackagingError(f"symlink '{relative}' makes a loop", "remove the link or exclude it") from None
    if not target.is_relative_to(root):
        raise PackagingError(f"symlink '{relative}' points outside the folder being deployed",
                             "copy the file in instead of linking it, or exclude the link")
    return target, os.stat(target)
