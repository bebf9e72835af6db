"""Deterministic zip writing: the same files give the same bytes, streamed from disk to disk."""

from __future__ import annotations

import os
import shutil
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

from butterbase_edge_deploy.errors import PackagingError

# zip's own default level; fixed so that output does not depend on the Python build.
COMPRESS_LEVEL = 6
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_COPY_BUFFER = 1024 * 1024


@dataclass(frozen=True)
class Entry:
    """One file (or empty folder) to store, under `name` (always with forward slashes)."""

    name: str
    path: Path
    size: int
    mode: int
    is_dir: bool = False


@dataclass(frozen=True)
class Archive:
    path: Path
    size: int
    file_count: int
    uncompressed_bytes: int


def write_zip(entries: list[Entry], destination: Path) -> Archive:
    """Write entries sorted by name, with fixed timestamps and the files' Unix modes."""
    files = 0
    total = 0
    with zipfile.ZipFile(destination, "w", compression=zipfile.ZIP_DEFLATED,
                         compresslevel=COMPRESS_LEVEL) as archive:
        for entry in sorted(entries, key=lambda e: e.name):
            info = zipfile.ZipInfo(entry.name + ("/" if entry.is_dir else ""), date_time=_FIXED_TIME)
            info.create_system = 3  # Unix, so that external_attr carries the mode
            if entry.is_dir:
                info.external_attr = ((stat.S_IFDIR | (entry.mode & 0o7777)) << 16) | 0x10
                archive.writestr(info, b"")
                continue
            info.external_attr = (stat.S_IFREG | (entry.mode & 0o7777)) << 16
            info.compress_type = zipfile.ZIP_DEFLATED if entry.size else zipfile.ZIP_STORED
            info.file_size = entry.size
            try:
                with open(entry.path, "rb") as source, archive.open(info, "w", force_zip64=entry.size > 2**31) as sink:
                    shutil.copyfileobj(source, sink, _COPY_BUFFER)
            except OSError as exc:
                raise PackagingError(f"cannot read {entry.name}: {exc.strerror or exc}",
                                     "make the file readable by the runner user, or exclude it") from None
            files += 1
            total += entry.size
    return Archive(destination, destination.stat().st_size, files, total)


def checked_name(relative: str) -> str:
    """Entry names must survive the trip: UTF-8 encodable and without backslashes (the server
    turns a backslash into a folder separator)."""
    try:
        relative.encode("utf-8")
    except UnicodeEncodeError:
        shown = os.fsencode(relative).decode("utf-8", "backslashreplace")
        raise PackagingError(f"file name '{shown}' is not valid UTF-8",
                             "rename the file with a UTF-8 name, or exclude it") from None
    if "\\" in relative:
        raise PackagingError(f"file name '{relative}' contains a backslash, which Butterbase reads as a "
                             "folder separator", "rename the file, or exclude it") from None
    return relative
