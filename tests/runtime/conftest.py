"""Fixtures for serving real workers: these tests need node and the installed runtime, and fail
(not skip) without them, because CI installs the runtime first (`make runtime`)."""

from __future__ import annotations

import http.client
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from butterbase_emulator.runtime import WorkerProcess, runtime_available

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fetch(port: int, path: str, *, method: str = "GET", headers: dict[str, str] | None = None) -> Reply:
    # http.client rather than urllib: never routed through a proxy from the environment.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, headers=headers or {})
        res = conn.getresponse()
        return Reply(res.status, {k.lower(): v for k, v in res.getheaders()}, res.read())
    finally:
        conn.close()


@pytest.fixture(autouse=True)
def _runtime_installed() -> None:
    if not runtime_available():
        pytest.fail("the Workers runtime is not installed: run `make runtime` (scripts/runtime-install.sh)")


def _serving(log_dir: Path) -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []

    def _serve(site_dir: Path, **kwargs: object) -> WorkerProcess:
        worker = WorkerProcess(site_dir, free_port(), log_dir / f"worker-{len(started)}.log", **kwargs)
        started.append(worker)
        worker.start()
        return worker

    try:
        yield _serve
    finally:
        for worker in started:
            worker.stop()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """serve(site_dir, **kwargs) starts a WorkerProcess on a free port; stopped after the test."""
    yield from _serving(tmp_path)


@pytest.fixture(scope="module")
def serve_for_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., WorkerProcess]]:
    """Like `serve`, for one server shared by a module's tests (a missing runtime errors them all)."""
    yield from _serving(tmp_path_factory.mktemp("workers"))


@pytest.fixture(name="fetch")
def fetch_fixture() -> Callable[..., Reply]:
    """fetch(port, path, method=..., headers=...) -> Reply, over plain HTTP on loopback."""
    return _fetch
