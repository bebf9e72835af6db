"""Following a deployment to its end: the status endpoint decides the result.

Polling starts fast and never waits more than 0.8 s, so READY is seen within about half a
second on average, at well under the API's per-route rate limit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from butterbase_edge_deploy.api import ButterbaseClient, Deployment
from butterbase_edge_deploy.errors import ApiError
from butterbase_edge_deploy.logstream import LogState

FIRST_INTERVAL = 0.2
MAX_INTERVAL = 0.8
# SUPERSEDED or CANCELED can flip back while the deployment's own pipeline is still running
# (contract §4.1, §12.17); give it this long before believing it.
FLIP_GRACE_SECONDS = 10.0
# A failed from-source build may leave the row WAITING forever (contract §0.2): once the log has
# shown a failure, this long without a terminal status settles it.
LOG_FAILURE_GRACE_SECONDS = 10.0
_TRANSIENT_LIMIT = 10


@dataclass(frozen=True)
class Outcome:
    deployment: Deployment | None
    status: str  # a server status, or TIMEOUT / CANCELED (by us)
    detail: str | None = None


def wait_for_terminal(client: ButterbaseClient, deployment_id: str, *, deadline: float,
                      on_status: Callable[[Deployment], None], log: LogState | None = None,
                      cancelled: threading.Event | None = None) -> Outcome:
    interval = FIRST_INTERVAL
    last: Deployment | None = None
    settling_since: float | None = None
    transient_errors = 0
    while True:
        if cancelled is not None and cancelled.is_set():
            return Outcome(last, "CANCELED", "the run was cancelled")
        current: Deployment | None
        try:
            current = client.get(deployment_id)
            transient_errors = 0
        except ApiError as exc:
            # Retries already happened inside the client; keep following through a bad patch,
            # but not through answers that will not change (not found, auth).
            transient_errors += 1
            if exc.status in (400, 401, 403, 404) or transient_errors >= _TRANSIENT_LIMIT:
                raise
            current = last
        now = time.monotonic()
        if current is not None:
            if last is None or current.status != last.status:
                on_status(current)
                settling_since = None
            last = current
            if current.status in ("READY", "ERROR"):
                return Outcome(current, current.status, current.error)
            if current.status in ("SUPERSEDED", "CANCELED"):
                settling_since = settling_since or now
                if now - settling_since >= FLIP_GRACE_SECONDS:
                    return Outcome(current, current.status, current.error)
            elif log is not None and log.failure_at is not None and now - log.failure_at >= LOG_FAILURE_GRACE_SECONDS:
                return Outcome(current, "ERROR", log.failure_line)
        if now >= deadline:
            return Outcome(last, "TIMEOUT", None)
        pause = min(interval, max(deadline - now, 0.0))
        if cancelled is not None:
            cancelled.wait(pause)
        else:
            time.sleep(pause)
        interval = min(interval * 1.5, MAX_INTERVAL)
