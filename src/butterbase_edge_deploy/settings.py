"""Every option resolved once, from workflow inputs or command-line flags, into one typed object.

Validation happens here, before any file is read or any request is sent, so that a bad input
always ends in one line that names the input and the fix.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import yaml

from butterbase_edge_deploy.errors import InputError

DEFAULT_API_URL = "https://api.butterbase.ai"
DEFAULT_OUTPUT_DIR = ".vercel/output/static"
DEFAULT_BUILD_COMMAND = "npx @cloudflare/next-on-pages"
DEFAULT_TIMEOUT_SECONDS = 600
MAX_TIMEOUT_SECONDS = 6 * 60 * 60

FLOWS = ("auto", "prebuilt", "source", "list")
FRAMEWORKS = ("nextjs-edge", "remix-edge", "other-edge")
PACKAGE_MANAGERS = ("npm", "pnpm", "yarn")
FAIL_ON = ("error", "never")

_APP_ID = re.compile(r"^app_[a-z0-9]+$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DOTENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$")
_TRUE = {"true", "True", "TRUE", "1", "yes"}
_FALSE = {"false", "False", "FALSE", "0", "no", ""}


@dataclass(frozen=True)
class Settings:
    api_url: str
    api_key: str
    app_id: str
    flow: str
    framework: str
    working_directory: Path
    output_dir: str
    build_command: str
    package_manager: str | None
    user_env: dict[str, str] = field(repr=False)
    deployment_id: str | None
    timeout: int
    dry_run: bool
    fail_on: str = "error"
    github_token: str = field(default="", repr=False)
    comment: bool = True
    environment: str = ""
    production: bool = False

    @property
    def output_path(self) -> Path:
        return self.working_directory / self.output_dir

    def secrets(self) -> list[str]:
        """Values that must never appear in any log or output."""
        return [self.api_key, self.github_token, *self.user_env.values()]


def raw_secrets(raw: Mapping[str, str]) -> list[str]:
    """Secret values taken from raw inputs before validation, so they are masked even if it fails."""
    found = [raw.get("api_key", "").strip(), raw.get("github_token", "").strip()]
    text = raw.get("user_env", "")
    try:
        found.extend(parse_user_env(text).values())
    except InputError:
        # Unparseable: mask every value-looking part so nothing can slip through an error path.
        for line in text.splitlines():
            _, _, value = line.partition("=" if "=" in line else ":")
            found.append(value.strip().strip("\"'"))
    return [value for value in found if value]


def load(raw: Mapping[str, str], *, workspace: Path, confine_to_workspace: bool,
         need_credentials: bool = True) -> Settings:
    """Build Settings from raw string inputs (the runner's INPUT_* values or CLI flags)."""

    def get(name: str, default: str = "") -> str:
        value = raw.get(name)
        return default if value is None or value.strip() == "" else value.strip()

    api_key = get("api_key")
    if not need_credentials:
        api_key = api_key or "unused"
        raw = {**raw, "app_id": get("app_id", "app_local")}
    if not api_key:
        raise InputError("api_key", "is missing", "pass your Butterbase API key: in a workflow from a secret "
                         "(api_key: ${{ secrets.BUTTERBASE_API_KEY }}), on the command line in BUTTERBASE_API_KEY")
    if any(ch.isspace() for ch in api_key):
        raise InputError("api_key", "contains whitespace or a line break",
                         "store only the key (bb_sk_…) in the secret, with no spaces or newlines")

    app_id = get("app_id")
    if not app_id:
        raise InputError("app_id", "is missing", "set app_id to your Butterbase app id (app_…)")
    if not _APP_ID.match(app_id):
        raise InputError("app_id", f"'{_shown(app_id)}' is not a Butterbase app id",
                         "use the id shown in the Butterbase dashboard: 'app_' followed by lowercase "
                         "letters and digits")

    flow = get("flow", "auto").lower()
    _one_of("flow", flow, FLOWS)
    framework = get("framework", "nextjs-edge").lower()
    _one_of("framework", framework, FRAMEWORKS)
    package_manager = get("package_manager").lower() or None
    if package_manager is not None:
        _one_of("package_manager", package_manager, PACKAGE_MANAGERS)
    fail_on = get("fail_on", "error").lower()
    _one_of("fail_on", fail_on, FAIL_ON)

    api_url = _api_url(get("api_url", DEFAULT_API_URL))
    working_directory = _working_directory(get("working_directory", "."), workspace, confine_to_workspace)
    output_dir = _relative_inside("output_dir", get("output_dir", DEFAULT_OUTPUT_DIR), working_directory)

    build_command = get("build_command", DEFAULT_BUILD_COMMAND)
    if len(build_command) > 500 or "\n" in build_command:
        raise InputError("build_command", "is longer than 500 characters or spans several lines",
                         "put the steps in a package.json script and use e.g. 'npm run build:edge'")

    deployment_id = get("deployment_id") or None
    if deployment_id is not None:
        try:
            uuid.UUID(deployment_id)
        except ValueError:
            raise InputError("deployment_id", f"'{_shown(deployment_id)}' is not a deployment id",
                             "use the deployment_id output of an earlier run (a UUID)") from None

    return Settings(
        api_url=api_url,
        api_key=api_key,
        app_id=app_id,
        flow=flow,
        framework=framework,
        working_directory=working_directory,
        output_dir=output_dir,
        build_command=build_command,
        package_manager=package_manager,
        user_env=parse_user_env(raw.get("user_env", "")),
        deployment_id=deployment_id,
        timeout=_timeout(get("timeout", str(DEFAULT_TIMEOUT_SECONDS))),
        dry_run=_boolean("dry_run", get("dry_run", "false")),
        fail_on=fail_on,
        github_token=get("github_token"),
        comment=_boolean("comment", get("comment", "true")),
        environment=_environment(get("environment")),
        production=_boolean("production", get("production", "false")),
    )


def _environment(value: str) -> str:
    if len(value) > 255 or any(ch in value for ch in "\r\n\t"):
        raise InputError("environment", f"'{_shown(value)}' is not a GitHub environment name",
                         "use a short single-line name, e.g. preview-pr-${{ github.event.number }} or production")
    return value


def parse_user_env(text: str) -> dict[str, str]:
    """Parse `user_env`: a YAML mapping of strings, or `KEY=value` lines (dotenv style)."""
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        return {}
    if all(_DOTENV_LINE.match(line) for line in lines):
        env = {}
        for line in lines:
            match = _DOTENV_LINE.match(line)
            assert match is not None
            env[match.group(1)] = _unquote(match.group(2).strip())
        return env
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        raise InputError("user_env", "is neither a YAML mapping nor KEY=value lines",
                         "write one 'NAME: value' or 'NAME=value' per line") from None
    if not isinstance(data, dict):
        raise InputError("user_env", "is not a mapping of names to values",
                         "write one 'NAME: value' or 'NAME=value' per line")
    env = {}
    for name, value in data.items():
        if not isinstance(name, str) or not _ENV_NAME.match(name):
            raise InputError("user_env", f"has an invalid variable name '{_shown(str(name))}'",
                             "use letters, digits and underscores, not starting with a digit")
        if not isinstance(value, str):
            kind = "nothing" if value is None else type(value).__name__
            raise InputError("user_env", f"value of {name} is {kind}, not a string",
                             f"quote it, e.g. {name}: \"...\" (values are passed to the build as text)")
        env[name] = value
    return env


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _one_of(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InputError(name, f"is '{_shown(value)}'", f"use one of: {', '.join(allowed)}")


def _shown(value: str) -> str:
    """An input echoed in an error: single line and short, so it cannot forge log lines."""
    flat = value.encode("unicode_escape").decode("ascii")
    return flat if len(flat) <= 60 else flat[:57] + "..."


def _boolean(name: str, value: str) -> bool:
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise InputError(name, f"is '{_shown(value)}'", "use true or false")


def _timeout(value: str) -> int:
    try:
        seconds = int(value)
    except ValueError:
        raise InputError("timeout", f"is '{_shown(value)}', not a whole number of seconds",
                         "use e.g. timeout: 600") from None
    if not 1 <= seconds <= MAX_TIMEOUT_SECONDS:
        raise InputError("timeout", f"is {seconds}",
                         f"use a number of seconds from 1 to {MAX_TIMEOUT_SECONDS}")
    return seconds


def _api_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InputError("api_url", f"'{_shown(value)}' is not an http(s) URL",
                         f"use the API's base URL, e.g. {DEFAULT_API_URL}")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise InputError("api_url", "has credentials, a query or a fragment",
                         "use only scheme, host and optional path; the key goes in api_key")
    if parts.scheme == "http" and not _is_local(parts.hostname):
        raise InputError("api_url", "uses plain http to a remote host, which would send the API key "
                         "unencrypted", "use https (plain http is only allowed for localhost and private "
                         "addresses, e.g. a local emulator)")
    try:
        _ = parts.port
    except ValueError:
        raise InputError("api_url", "has an invalid port", "fix the port number") from None
    return value.rstrip("/")


def _is_local(host: str) -> bool:
    """Loopback or a private address literal: an emulator on this machine or its container bridge."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private


def _working_directory(value: str, workspace: Path, confine: bool) -> Path:
    if "\\" in value:
        raise InputError("working_directory", "contains a backslash",
                         "write paths with forward slashes, e.g. apps/web")
    resolved = (workspace / value).resolve()  # an absolute value replaces the workspace part
    if confine and not resolved.is_relative_to(workspace.resolve()):
        raise InputError("working_directory", f"'{_shown(value)}' is outside the workspace",
                         "use a folder inside the repository, relative to its root")
    if not resolved.exists():
        raise InputError("working_directory", f"'{_shown(value)}' does not exist",
                         "check the path (relative to the repository root) and that the repo is checked out")
    if not resolved.is_dir():
        raise InputError("working_directory", f"'{_shown(value)}' is not a folder",
                         "point it at the app's folder, the one with package.json")
    return resolved


def _relative_inside(name: str, value: str, root: Path) -> str:
    if "\\" in value:
        raise InputError(name, "contains a backslash", "write paths with forward slashes, e.g. .vercel/output/static")
    posix = PurePosixPath(value)
    if posix.is_absolute():
        raise InputError(name, f"'{_shown(value)}' is an absolute path",
                         "give it relative to working_directory, e.g. .vercel/output/static")
    if ".." in posix.parts or not (root / posix).resolve().is_relative_to(root):
        raise InputError(name, f"'{_shown(value)}' leaves working_directory",
                         "use a folder inside working_directory")
    normalised = str(posix)
    if normalised in (".", ""):
        raise InputError(name, "points at working_directory itself",
                         "use the build output folder, e.g. .vercel/output/static or dist")
    return normalised
