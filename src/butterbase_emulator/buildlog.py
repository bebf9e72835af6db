"""Build logs: the in-memory handle, the capped log object, and the SSE stream.

Frame format is the server's (contract §6): each raw chunk, decoded with an
incremental UTF-8 decoder, has CRs deleted and LFs replaced by a literal backslash-n,
and goes out as ``data: <payload>\\n\\n``; frames are not line-aligned and may be empty;
the end is ``event: done`` / ``data: end``. Replay errors are ``event: error`` frames.
"""

from __future__ import annotations

import codecs
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from .exchange import ClientGone, Exchange
from .storage import ObjectStore

LOG_MAX_BYTES = 5 * 1024 * 1024
TRUNCATION_MARKER = b"\n[log truncated at 5 MB]\n"
REPLAY_READ = 16 * 1024  # roughly what an R2 body stream hands over per read
DONE_FRAME = b"event: done\ndata: end\n\n"
NO_LOGS_FRAME = b"event: error\ndata: no logs available\n\n"
READ_ERROR_FRAME = b"event: error\ndata: log read error\n\n"
SSE_HEADERS = [("content-type", "text/event-stream"), ("cache-control", "no-cache"), ("connection", "keep-alive")]


class BuildHandle:
    """Every byte of one build (runner output and ``[driver]`` lines), with live followers."""

    def __init__(self, build_id: str) -> None:
        self.build_id = build_id
        self._chunks: list[bytes] = []
        self._cond = threading.Condition()
        self.done = False

    def push(self, chunk: bytes) -> None:
        if not chunk:
            return
        with self._cond:
            self._chunks.append(chunk)
            self._cond.notify_all()

    def finish(self) -> None:
        with self._cond:
            self.done = True
            self._cond.notify_all()

    def text(self) -> str:
        with self._cond:
            return b"".join(self._chunks).decode("utf-8", errors="replace")

    def follow(self, stop: Callable[[], bool]) -> Iterator[bytes]:
        """All chunks from the first, then new ones as they come, until finish()."""
        index = 0
        while True:
            with self._cond:
                while index >= len(self._chunks) and not self.done:
                    if stop():
                        return
                    self._cond.wait(0.5)
                if index < len(self._chunks):
                    chunk = self._chunks[index]
                    index += 1
                else:
                    return
            yield chunk


class RunnerLog:
    """The runner's LogBuffer: first 5 MiB kept, then a marker; flushed whole to the log object."""

    def __init__(self, objects: ObjectStore, key: str) -> None:
        self.objects = objects
        self.key = key
        self._chunks: list[bytes] = []
        self._size = 0
        self._truncated = False
        self._lock = threading.Lock()

    def append(self, chunk: bytes) -> None:
        with self._lock:
            if self._truncated:
                return
            if self._size + len(chunk) > LOG_MAX_BYTES:
                room = LOG_MAX_BYTES - self._size
                if room > 0:
                    self._chunks.append(chunk[:room])
                self._chunks.append(TRUNCATION_MARKER)
                self._truncated = True
                return
            self._chunks.append(chunk)
            self._size += len(chunk)

    def flush(self) -> None:
        with self._lock:
            data = b"".join(self._chunks)
        self.objects.put_bytes(self.key, data)


class SseEncoder:
    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    @staticmethod
    def _frame(text: str) -> bytes:
        return b"data: " + text.replace("\r", "").replace("\n", "\\n").encode("utf-8") + b"\n\n"

    def frame(self, chunk: bytes) -> bytes:
        return self._frame(self._decoder.decode(chunk))

    def tail(self) -> bytes | None:
        rest = self._decoder.decode(b"", final=True)
        return self._frame(rest) if rest else None


def js_parse_int(value: str | None) -> int | None:
    """parseInt(value, 10): leading whitespace and sign, then digits; None for NaN."""
    if not value:
        return None
    match = re.match(r"^\s*([+-]?\d+)", value)
    return int(match.group(1)) if match else None


class SseStream:
    """One SSE answer, applying the ``sse_drop`` and ``hang`` faults."""

    def __init__(self, ex: Exchange, stopping: Callable[[], bool]) -> None:
        self.ex = ex
        self.stopping = stopping
        fault: Any = ex.fault
        self.drop_after: int | None = fault.sse_drop_after if fault and fault.action == "sse_drop" else None
        self.hang = bool(fault and fault.action == "hang")
        self.frames = 0
        ex.start_stream(200, SSE_HEADERS)
        self._maybe_drop()

    def _maybe_drop(self) -> None:
        if self.drop_after is not None and self.frames >= self.drop_after:
            self.ex.abort()
            raise ClientGone("sse_drop fault")

    def data(self, frame: bytes) -> None:
        self.ex.write_chunk(frame)
        self.frames += 1
        self._maybe_drop()

    def error(self, frame: bytes) -> None:
        self.ex.write_chunk(frame)
        self.ex.end_stream()

    def done(self) -> None:
        if self.drop_after is not None:
            self.ex.abort()  # the fault promises no `done`, however few frames there were
            raise ClientGone("sse_drop fault")
        if self.hang:
            self.ex.wait_for_disconnect(self.stopping)
            raise ClientGone("hang fault")
        self.ex.write_chunk(DONE_FRAME)
        self.ex.end_stream()


def stream_live(ex: Exchange, handle: BuildHandle, stopping: Callable[[], bool]) -> None:
    sse = SseStream(ex, stopping)
    encoder = SseEncoder()
    for chunk in handle.follow(stopping):
        sse.data(encoder.frame(chunk))
    if stopping():
        ex.abort()
        return
    tail = encoder.tail()
    if tail:
        sse.data(tail)
    sse.done()


def stream_replay(ex: Exchange, objects: ObjectStore, key: str, offset_param: str | None,
                  stopping: Callable[[], bool]) -> None:
    offset = js_parse_int(offset_param) or 0
    sse = SseStream(ex, stopping)
    try:
        path = objects.path(key)
        handle = open(path, "rb")  # noqa: SIM115 - closed below, after the size check
    except (OSError, ValueError):
        sse.error(NO_LOGS_FRAME)
        return
    with handle:
        size = handle.seek(0, 2)
        if offset > 0 and offset >= size:  # an unsatisfiable Range
            sse.error(NO_LOGS_FRAME)
            return
        handle.seek(offset if offset > 0 else 0)
        encoder = SseEncoder()
        try:
            while chunk := handle.read(REPLAY_READ):
                sse.data(encoder.frame(chunk))
                time.sleep(0)
        except OSError:
            sse.error(READ_ERROR_FRAME)
            return
    tail = encoder.tail()
    if tail:
        sse.data(tail)
    sse.done()
