"""Build the action's image with podman and run it the way the GitHub runner runs a Docker action.

The runner (actions/runner, ContainerActionHandler + DockerCommandManager.DockerRun) starts the
container with `docker run --name N --label L --workdir /github/workspace --rm -e NAME ... -e
GITHUB_ACTIONS=true -e CI=true -v <home>:/github/home -v <workflow>:/github/workflow -v
<file_commands>:/github/file_commands -v <workspace>:/github/workspace IMAGE`. Environment values
are not on the command line: `-e NAME` takes each value from the docker client's own environment,
so secrets never show up in a process listing; we do the same. Paths under the mounted folders are
translated to their /github/... form. Two differences, both forced by this machine:
- `--network=host`, so the container reaches the emulator on 127.0.0.1 (on GitHub the container
  sits on Docker's default bridge and reaches the host at the bridge gateway instead);
- no `-v /var/run/docker.sock:/var/run/docker.sock` (there is no Docker engine here, and podman
  refuses a missing mount source; the action does not use Docker).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts" / "container"
# The runner's workspace belongs to its own user (uid 1001 on hosted runners), not to root.
RUNNER_UID = 1001

# GITHUB_* file commands the runner prepares (empty files) before each step, by prefix.
FILE_COMMANDS = {
    "GITHUB_OUTPUT": "set_output",
    "GITHUB_STEP_SUMMARY": "step_summary",
    "GITHUB_ENV": "set_env",
    "GITHUB_PATH": "add_path",
    "GITHUB_STATE": "save_state",
}


def podman_env() -> dict[str, str]:
    """Prepare podman (idempotent; a no-op when done) and return an environment that uses it."""
    started = time.monotonic()
    result = subprocess.run(["bash", str(SCRIPTS / "setup-podman.sh")], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"setup-podman.sh failed ({result.returncode}):\n{result.stderr}")
    env = dict(os.environ)
    for line in result.stdout.splitlines():
        if line.startswith("export "):
            for assignment in shlex.split(line[len("export "):]):
                name, _, value = assignment.partition("=")
                env[name] = value
    env["BBED_SETUP_SECONDS"] = f"{time.monotonic() - started:.1f}"
    return env


def podman(env: dict[str, str], *args: str, check: bool = True,
           timeout: float = 600) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["podman", *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def build_image(env: dict[str, str], tag: str) -> float:
    """`docker build -t TAG -f Dockerfile <action dir>`, as the runner builds a Dockerfile action."""
    started = time.monotonic()
    podman(env, "build", "--quiet", "-t", tag, "-f", str(ROOT / "Dockerfile"), str(ROOT))
    return time.monotonic() - started


@dataclass
class ContainerRun:
    code: int
    stdout: str
    stderr: str
    output_text: str
    summary: str
    seconds: float
    command: list[str]


def run_like_runner(env: dict[str, str], image: str, workspace: Path, temp: Path, inputs: dict[str, str],
                    timeout: float = 180) -> ContainerRun:
    """One `uses:` step of a Docker action: fresh file-command files, inputs as INPUT_* variables."""
    home, workflow, files = temp / "_github_home", temp / "_github_workflow", temp / "_runner_file_commands"
    for folder in (home, workflow, files):
        folder.mkdir(parents=True, exist_ok=True)
    step_id = uuid.uuid4()
    values: dict[str, str] = {
        "HOME": "/github/home",
        "GITHUB_WORKSPACE": "/github/workspace",
        "GITHUB_EVENT_PATH": "/github/workflow/event.json",
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_REPOSITORY": "example/app",
        "GITHUB_SHA": "0" * 40,
        "GITHUB_REF": "refs/heads/main",
        "GITHUB_RUN_ID": "1",
        "RUNNER_OS": "Linux",
    }
    (workflow / "event.json").write_text("{}")
    for variable, prefix in FILE_COMMANDS.items():
        name = f"{prefix}_{step_id}"
        (files / name).write_text("")
        values[variable] = f"/github/file_commands/{name}"
    for name, value in inputs.items():
        # The runner's rule: INPUT_ + name upper-cased with spaces as underscores; hyphens stay.
        values["INPUT_" + name.replace(" ", "_").upper()] = value

    command = ["podman", "run", "--name", f"bbed-{step_id.hex[:12]}", "--label", "bbed-test",
               "--workdir", "/github/workspace", "--rm"]
    for name in values:
        command += ["-e", name]
    command += ["-e", "GITHUB_ACTIONS=true", "-e", "CI=true", "--network=host"]
    for source, target in ((home, "/github/home"), (workflow, "/github/workflow"),
                           (files, "/github/file_commands"), (workspace, "/github/workspace")):
        command += ["-v", f"{source}:{target}"]
    command.append(image)

    started = time.monotonic()
    result = subprocess.run(command, env={**env, **values}, capture_output=True, text=True, timeout=timeout,
                            check=False)
    seconds = time.monotonic() - started
    return ContainerRun(
        code=result.returncode,
        stdout=result.stdout,
        stderr=result.stderr,
        output_text=(files / f"set_output_{step_id}").read_text(),
        summary=(files / f"step_summary_{step_id}").read_text(),
        seconds=seconds,
        command=command,
    )


def tree_state(root: Path) -> dict[str, int]:
    """Every path under root (relative) with its owner's uid."""
    state = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            state[str(path.relative_to(root))] = path.lstat().st_uid
    return state


def hand_to_runner_user(root: Path) -> None:
    for dirpath, _dirnames, filenames in os.walk(root):
        os.lchown(dirpath, RUNNER_UID, RUNNER_UID)
        for name in filenames:
            os.lchown(Path(dirpath) / name, RUNNER_UID, RUNNER_UID)
