"""The server-side build log: server-sent events turned back into whole lines, live.

Frame payloads are arbitrary slices of the log with newlines escaped as backslash-n (contract §6).
A stream can end with `done` before the build ends, fail with `error`, or drop; after each we
reconnect (with backoff) until told to stop. Every connection replays the log from its start, so
the characters already shown are skipped: each line appears once, in order.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import requests
import sseclient

from butterbase_edge_deploy.api import ButterbaseClient, iter_raw_chunks
from butterbase_edge_deploy.errors import ApiError

# Lines the real runner and driver write when a build fails (contract §7, §12.2).
FAILURE_MARKERS = ("[runner] FAILED:", "[runner] fatal:", "[driver] error:", "[driver] deploy failed:")
CACHE_MARKER = "[runner] restoring node_modules cache"
REPLAY_POLL_SECONDS = 1.0


def unescape(payload: str) -> str:
    return payload.replace("\\n", "\n")


class LineAssembler:
    """Joins payload slices and hands out complete lines; a partial line waits for its end."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        self._emit = emit
        self._pending = ""

    def feed(self, text: str) -> None:
        self._pending += text
        *complete, self._pending = self._pending.split("\n")
        for line in complete:
            self._emit(line)

    def flush(self) -> None:
        if self._pending:
            line, self._pending = self._pending, ""
            self._emit(line)


@dataclass
class LogState:
    """What the log told us; read by the status follower (the status decides, the log informs)."""

    lines: deque[str] = field(default_factory=lambda: deque(maxlen=200))
    failure_line: str | None = None
    failure_at: float | None = None  # monotonic time the failure line arrived
    succeeded: bool = False
    cache_restored: bool = False
    ended: threading.Event = field(default_factory=threading.Event)
    connections: int = 0

    def tail(self, count: int = 30) -> list[str]:
        return list(self.lines)[-count:]


class LogFollower(threading.Thread):
    def __init__(self, client: ButterbaseClient, logs_url: str, on_line: Callable[[str], None],
                 keep_going: Callable[[], bool]) -> None:
        super().__init__(name="build-log", daemon=True)
        self._client = client
        self._logs_url = logs_url
        self._on_line = on_line
        self._keep_going = keep_going
        self._halt = threading.Event()
        self._received = 0  # characters of log text shown so far
        self._assembler = LineAssembler(self._line)
        self.state = LogState()
        self._response: requests.Response | None = None

    def stop(self) -> None:
        """Stop now, even in the middle of a read that would otherwise block."""
        self._halt.set()
        response = self._response
        if response is not None:
            # close() from another thread would wait for the reader's lock; a socket shutdown
            # makes the blocked read return instead.
            with contextlib.suppress(Exception):
                response.raw.shutdown()

    def run(self) -> None:
        backoff = 0.5
        try:
            while not self._halt.is_set():
                # A connection opened after the deployment ended sees the whole log: the final pass.
                final_pass = not self._keep_going()
                outcome = self._one_connection()
                if self._halt.is_set() or outcome == "gone" or final_pass:
                    break
                if not self._keep_going():
                    continue
                if outcome == "done":
                    # Replay mode ends at what the runner flushed so far: look again shortly.
                    pause, backoff = REPLAY_POLL_SECONDS, 0.5
                else:
                    pause, backoff = backoff, min(backoff * 2, 5.0)
                if self._halt.wait(pause):
                    break
        finally:
            self._assembler.flush()
            self.state.ended.set()

    def _one_connection(self) -> str:
        try:
            response = self._client.open_log_stream(self._logs_url)
        except ApiError as exc:
            return "gone" if exc.status == 404 else "error"
        self._response = response
        self.state.connections += 1
        position = 0
        try:
            for event in sseclient.SSEClient(iter_raw_chunks(response)).events():
                if self._halt.is_set():
                    return "stopped"
                if event.event == "done":
                    return "done"
                if event.event == "error":
                    return "error"
                text = unescape(event.data)
                end = position + len(text)
                if end > self._received:
                    self._assembler.feed(text[max(self._received - position, 0):])
                    self._received = end
                position = end
        except Exception:  # any broken read (reset, incomplete chunk, timeout) is a dropped stream
            return "dropped"
        finally:
            self._response = None
            with contextlib.suppress(Exception):
                response.close()
        return "dropped"

    def _line(self, line: str) -> None:
        state = self.state
        state.lines.append(line)
        if line.startswith(FAILURE_MARKERS) and state.failure_line is None:
            state.failure_line = line
            state.failure_at = time.monotonic()
        elif line.startswith("[runner] success"):
            state.succeeded = True
        elif line.startswith(CACHE_MARKER):
            state.cache_restored = True
        if not self._halt.is_set():
            self._on_line(line)
