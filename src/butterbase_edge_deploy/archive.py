"""Deterministic zip writing: the same files give the same bytes, streamed from disk to disk.

Members are compressed in a small thread pool (zlib releases the GIL) and written in name order,
so the packaging step uses every core and its memory does not grow with the size of the tree:
only a few pieces of at most ``PIECE`` bytes are in flight, and the zip goes straight to disk.

The bytes never depend on the machine (core count, timing, thread scheduling):
- a file of up to ``PIECE`` bytes is one raw deflate stream, exactly what ``zipfile`` writes;
- a larger file is cut at fixed ``PIECE`` offsets; each piece is compressed on its own, primed with
  the 32 KiB before it, and ends on a byte boundary (sync flush), the last one with the final block,
  as pigz does. The pieces concatenated are one valid deflate stream; the CRC is combined in order.
Headers are the ones ``zipfile`` writes (fixed 1980-01-01 timestamp, Unix modes, UTF-8 flag),
central directory and ZIP64 end records included. A member too large for a 32-bit local header
(over about 2 GiB, far above any Butterbase limit) makes the whole archive go through ``zipfile``.
"""

from __future__ import annotations

import functools
import os
import shutil
import stat
import struct
import tempfile
import zipfile
import zlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from butterbase_edge_deploy.errors import PackagingError

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

# zip's own default level; fixed so that output does not depend on the Python build.
COMPRESS_LEVEL = 6
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_COPY_BUFFER = 1024 * 1024
# Files larger than this are compressed in pieces of this size. Part of the output format: changing
# it changes the bytes of every archive with a larger file.
PIECE = 1024 * 1024
_DICTIONARY = 32 * 1024  # deflate's window: what a piece is primed with
_BATCH_BYTES = 256 * 1024  # small files travel to a worker in batches of about this many bytes
_BATCH_FILES = 128
_MAX_WORKERS = 8

_ZIP64_LIMIT = (1 << 31) - 1
_FILECOUNT_LIMIT = (1 << 16) - 1
_VERSION = 20  # 2.0: deflate; what zipfile writes when no ZIP64 field is needed
_ZIP64_VERSION = 45
_DOS_TIME = 0
_DOS_DATE = (1980 - 1980) << 9 | 1 << 5 | 1
_UTF8_FLAG = 0x800
_LOCAL = struct.Struct("<4sBBHHHHLLLHH")
_CENTRAL = struct.Struct("<4sBBBBHHHHLLLHHHHHLL")
_END = struct.Struct("<4sHHHHLLH")
_END64 = struct.Struct("<4sQ2H2L4Q")
_END64_LOCATOR = struct.Struct("<4sLQL")


@dataclass(frozen=True, slots=True)  # slots: a tree of 50,000 files is 50,000 of these
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
    ordered = sorted(entries, key=lambda e: e.name)
    if any(not e.is_dir and e.size * 1.05 > _ZIP64_LIMIT for e in ordered):
        _write_with_zipfile(ordered, destination)
    else:
        _write_parallel(ordered, destination)
    files = [e for e in ordered if not e.is_dir]
    return Archive(destination, destination.stat().st_size, len(files), sum(e.size for e in files))


# -- the parallel writer --------------------------------------------------------------------------

class _Piece:
    """A file, or a PIECE-sized part of one, for a worker to read and compress (a plain class: the
    module is imported at every start of the Action, and a dataclass costs a millisecond to define)."""

    __slots__ = ("entry", "last", "length", "offset", "whole")

    def __init__(self, entry: Entry, offset: int, length: int, whole: bool, last: bool) -> None:
        self.entry = entry
        self.offset = offset
        self.length = length  # bytes to read; a whole file is read to its end
        self.whole = whole  # the file in one piece (its size is at most PIECE)
        self.last = last


# (compressed bytes, crc32 of the raw bytes, number of raw bytes)
_Result = tuple[bytes, int, int]


def _workers() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(_MAX_WORKERS, cores))


def _pieces(entries: list[Entry]) -> Iterator[_Piece]:
    for entry in entries:
        if entry.is_dir:
            continue
        if entry.size <= PIECE:
            yield _Piece(entry, 0, entry.size, True, True)
            continue
        for offset in range(0, entry.size, PIECE):
            length = min(PIECE, entry.size - offset)
            yield _Piece(entry, offset, length, False, offset + length >= entry.size)


def _batches(entries: list[Entry]) -> Iterator[list[_Piece]]:
    """Pieces in archive order, small files grouped so that a worker gets a useful amount of work."""
    batch: list[_Piece] = []
    size = 0
    for piece in _pieces(entries):
        if not piece.whole:
            if batch:
                yield batch
                batch, size = [], 0
            yield [piece]
            continue
        batch.append(piece)
        size += piece.length
        if size >= _BATCH_BYTES or len(batch) >= _BATCH_FILES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _read(entry: Entry, offset: int, length: int, *, to_end: bool) -> bytes:
    """Bytes of a file: ``length`` from ``offset``, or from ``offset`` to the end of the file.
    os.open/os.pread rather than open(): for thousands of small files the file object is the cost."""
    fd = os.open(entry.path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        parts = []
        want = length + 1 if to_end else length
        while want > 0:
            data = os.pread(fd, want, offset)
            if not data:
                break
            parts.append(data)
            offset += len(data)
            want = _COPY_BUFFER if to_end else want - len(data)
    finally:
        os.close(fd)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _compress(piece: _Piece) -> _Result:
    entry = piece.entry
    primer = b""
    try:
        if piece.whole:
            data = _read(entry, 0, piece.length, to_end=True)  # to the end, as zipfile reads a member
        else:
            start = max(0, piece.offset - _DICTIONARY)
            raw = _read(entry, start, piece.offset - start + piece.length, to_end=False)
            primer, data = raw[:piece.offset - start], raw[piece.offset - start:]
            if len(data) != piece.length:
                raise PackagingError(f"'{entry.name}' changed while it was being packaged",
                                     "do not write to the output folder while deploying it")
    except OSError as exc:
        raise PackagingError(f"cannot read {entry.name}: {exc.strerror or exc}",
                             "make the file readable by the runner user, or exclude it") from None
    crc = zlib.crc32(data)
    if piece.whole:
        if entry.size == 0:
            return data, crc, len(data)  # stored, as zipfile stores a file that was empty when listed
        # One call, one deflate stream: the same bytes as zipfile's compressobj(6, DEFLATED, -15).
        return zlib.compress(data, COMPRESS_LEVEL, -15), crc, len(data)
    if primer:
        compressor = zlib.compressobj(COMPRESS_LEVEL, zlib.DEFLATED, -15, zdict=primer)
    else:
        compressor = zlib.compressobj(COMPRESS_LEVEL, zlib.DEFLATED, -15)
    out = compressor.compress(data) + compressor.flush(zlib.Z_FINISH if piece.last else zlib.Z_SYNC_FLUSH)
    return out, crc, len(data)


def _compress_batch(batch: list[_Piece]) -> list[_Result]:
    return [_compress(piece) for piece in batch]


def _results(entries: list[Entry], pool: ThreadPoolExecutor, window: int) -> Iterator[_Result]:
    """Each piece's result, in archive order, with at most ``window`` batches in flight."""
    batches = _batches(entries)
    pending: deque[Future[list[_Result]]] = deque()
    for batch in batches:
        pending.append(pool.submit(_compress_batch, batch))
        if len(pending) >= window:
            break
    while pending:
        done = pending.popleft().result()
        following = next(batches, None)
        if following is not None:
            pending.append(pool.submit(_compress_batch, following))
        yield from done


def _write_parallel(entries: list[Entry], destination: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor  # here: not a cost of every start-up

    workers = _workers()
    count = 0
    position = 0
    central_size = 0
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="zip")
    try:
        results = _results(entries, pool, window=2 * workers + 1)
        # The central directory (about 80 bytes a file) waits in a temporary file once it passes 1 MiB.
        with open(destination, "wb", buffering=_COPY_BUFFER) as out, \
                tempfile.SpooledTemporaryFile(max_size=_COPY_BUFFER) as central:
            for entry in entries:
                name, flags = _encoded_name(entry.name + ("/" if entry.is_dir else ""))
                offset = position
                if entry.is_dir:
                    method, crc, compressed, size = zipfile.ZIP_STORED, 0, 0, 0
                    attributes = ((stat.S_IFDIR | (entry.mode & 0o7777)) << 16) | 0x10
                    position += out.write(_local_header(name, flags, method, 0, 0, 0))
                else:
                    method = zipfile.ZIP_DEFLATED if entry.size else zipfile.ZIP_STORED
                    attributes = (stat.S_IFREG | (entry.mode & 0o7777)) << 16
                    data, crc, size = next(results)
                    compressed = len(data)
                    if entry.size <= PIECE:
                        position += out.write(_local_header(name, flags, method, crc, compressed, size))
                        position += out.write(data)
                    else:
                        # Sizes and CRC are known after the last piece: write the header, then fix it.
                        position += out.write(_local_header(name, flags, method, 0, 0, 0))
                        position += out.write(data)
                        for _ in range(1, -(-entry.size // PIECE)):
                            data, piece_crc, piece_size = next(results)
                            crc = _crc32_combine(crc, piece_crc, piece_size)
                            size += piece_size
                            compressed += len(data)
                            position += out.write(data)
                        if compressed > _ZIP64_LIMIT or size > _ZIP64_LIMIT:
                            raise PackagingError(f"'{entry.name}' grew past 2 GiB while it was being packaged",
                                                 "do not write to the output folder while deploying it")
                        out.seek(offset + 14)
                        out.write(struct.pack("<LLL", crc, compressed, size))
                        out.seek(position)
                central_size += central.write(
                    _central_header(name, flags, method, crc, compressed, size, attributes, offset))
                count += 1
            central.seek(0)
            shutil.copyfileobj(central, out, _COPY_BUFFER)
            out.write(_end_records(count, central_size, position))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _encoded_name(name: str) -> tuple[bytes, int]:
    try:
        return name.encode("ascii"), 0
    except UnicodeEncodeError:
        return name.encode("utf-8"), _UTF8_FLAG


def _local_header(name: bytes, flags: int, method: int, crc: int, compressed: int, size: int) -> bytes:
    return _LOCAL.pack(b"PK\x03\x04", _VERSION, 0, flags, method, _DOS_TIME, _DOS_DATE, crc, compressed, size,
                       len(name), 0) + name


def _central_header(name: bytes, flags: int, method: int, crc: int, compressed: int, size: int,
                    attributes: int, offset: int) -> bytes:
    extra = b""
    version = _VERSION
    if offset > _ZIP64_LIMIT:
        extra = struct.pack("<HHQ", 1, 8, offset)
        offset = 0xFFFFFFFF
        version = _ZIP64_VERSION
    return _CENTRAL.pack(b"PK\x01\x02", version, 3, version, 0, flags, method, _DOS_TIME, _DOS_DATE, crc,
                         compressed, size, len(name), len(extra), 0, 0, 0, attributes, offset) + name + extra


def _end_records(count: int, size: int, offset: int) -> bytes:
    records = b""
    if count > _FILECOUNT_LIMIT or offset > _ZIP64_LIMIT or size > _ZIP64_LIMIT:
        end64 = offset + size
        records += _END64.pack(b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, size, offset)
        records += _END64_LOCATOR.pack(b"PK\x06\x07", 0, end64, 1)
        count, size, offset = min(count, 0xFFFF), min(size, 0xFFFFFFFF), min(offset, 0xFFFFFFFF)
    return records + _END.pack(b"PK\x05\x06", 0, 0, count, count, size, offset, 0)


# crc32(a + b) from crc32(a), crc32(b) and len(b): zlib's crc32_combine (not exposed by Python).
_CRC_POLY = 0xEDB88320


def _multmodp(a: int, b: int) -> int:
    m = 1 << 31
    p = 0
    while True:
        if a & m:
            p ^= b
            if a & (m - 1) == 0:
                return p
        m >>= 1
        b = (b >> 1) ^ _CRC_POLY if b & 1 else b >> 1


@functools.cache
def _x2n_table() -> tuple[int, ...]:
    """x^(2^k) modulo the CRC polynomial, k = 0..31."""
    table = [1 << 30]  # x^1
    for _ in range(31):
        table.append(_multmodp(table[-1], table[-1]))
    return tuple(table)


@functools.lru_cache(maxsize=64)
def _shift(length: int) -> int:
    """x^(8 * length) modulo the CRC polynomial: appending `length` bytes, as an operator."""
    table = _x2n_table()
    p = 1 << 31  # x^0
    k = 3
    while length:
        if length & 1:
            p = _multmodp(table[k & 31], p)
        length >>= 1
        k += 1
    return p


def _crc32_combine(crc1: int, crc2: int, length2: int) -> int:
    return _multmodp(_shift(length2), crc1) ^ crc2


# -- the reference writer: zipfile, one member at a time --------------------------------------------

def _write_with_zipfile(entries: list[Entry], destination: Path) -> None:
    with zipfile.ZipFile(destination, "w", compression=zipfile.ZIP_DEFLATED,
                         compresslevel=COMPRESS_LEVEL) as archive:
        for entry in entries:
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
