"""Running a pipeline the same way from the Action and the command line: errors become one line
and exit code 1, a signal cancels the remote deployment, and the report is always complete."""

from __future__ import annotations

import os
import signal
import traceback
from collections.abc import Callable
from types import FrameType

from butterbase_edge_deploy.console import Console
from butterbase_edge_deploy.deploy import Pipeline
from butterbase_edge_deploy.errors import Cancelled, DeployError, DeploymentFailed, DeployTimeout, InputError
from butterbase_edge_deploy.report import RunReport
from butterbase_edge_deploy.settings import Settings

CANCEL_REQUEST_TIMEOUT = 5.0


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    raise Cancelled(f"received {signal.Signals(signum).name}", "")


def run_pipeline(settings: Settings, console: Console, report: RunReport,
                 action: Callable[[Pipeline], None] | None = None) -> int:
    """Run and return the exit code. The report holds whatever is known, whatever happened."""
    pipeline = Pipeline(settings, console, report)
    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        (action or Pipeline.run)(pipeline)
        return 0
    except Cancelled as exc:
        _ignore_signals()
        report.status = "CANCELED"
        report.error = f"cancelled ({exc.message})"
        _cancel_remote(pipeline, console, report)
        console.error(f"deploy cancelled ({exc.message}); outputs are written with status {report.status}")
        return 1
    except DeployError as exc:
        _ignore_signals()
        if isinstance(exc, DeployTimeout):
            report.status = "TIMEOUT"
        elif isinstance(exc, DeploymentFailed):
            report.status = exc.status
        elif not report.status:
            report.status = "ERROR"
        report.error, report.fix = exc.message, exc.fix
        console.error(exc.one_line())
        soft = settings.fail_on == "never" and not isinstance(exc, InputError)
        if soft:
            console.info("fail_on is never: the step passes; check the status output")
        return 0 if soft else 1
    except Exception as exc:  # a bug of ours: still one line, still outputs, and a way to see more
        _ignore_signals()
        report.status = report.status if report.status in ("READY",) else "ERROR"
        report.error = f"internal error: {type(exc).__name__}: {exc}"
        console.error(f"{report.error}. Fix: please report this; set ACTIONS_STEP_DEBUG=true for a traceback")
        if os.environ.get("ACTIONS_STEP_DEBUG") == "true" or os.environ.get("RUNNER_DEBUG") == "1":
            console.info(traceback.format_exc())
        return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        pipeline.close()


def _ignore_signals() -> None:
    # The runner sends SIGINT then SIGTERM; the second must not interrupt the clean-up of the first.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)


def _cancel_remote(pipeline: Pipeline, console: Console, report: RunReport) -> None:
    deployment_id = report.deployment_id
    if not deployment_id or report.flow in ("list", "attach"):
        return
    try:
        status = pipeline.client.cancel(deployment_id, timeout=CANCEL_REQUEST_TIMEOUT)
        console.info(f"Asked Butterbase to cancel deployment {deployment_id}: {status}")
        return
    except DeployError as exc:
        refusal = exc.one_line()
    # Refused: most often because it already ended. Report what it is, not what we wished.
    try:
        current = pipeline.client.get(deployment_id)
    except DeployError:
        console.warning(f"could not cancel deployment {deployment_id}: {refusal}")
        return
    if current.terminal:
        report.status, report.url = current.status, current.url or ""
        console.warning(f"the cancel came too late: deployment {deployment_id} is already {current.status}"
                        f"{' at ' + current.url if current.url else ''}")
    else:
        console.warning(f"could not cancel deployment {deployment_id}: {refusal}")
