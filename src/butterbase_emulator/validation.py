"""Request body parsing and validation, reproducing Fastify's parser and the Zod schemas.

Issues are reported in Zod's own shape so that quirk mode can answer exactly what the
server answers (a 500 whose non-production details carry the ZodError text), while the
default mode turns the first issue into a 400 naming the field.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from . import errors
from .exchange import Exchange

BODY_LIMIT = 1024 * 1024  # Fastify's default bodyLimit
FRAMEWORKS = ("nextjs-edge", "remix-edge", "other-edge")
PACKAGE_MANAGERS = ("npm", "pnpm", "yarn")
LOCKFILE_HASH = re.compile(r"^[a-f0-9]{8,64}$")


class Missing:
    """No body at all (JavaScript ``undefined``)."""


MISSING = Missing()


class RawBody(bytes):
    """A body of a content type Fastify hands over as a Buffer (a JS object with no fields)."""


def read_request_body(ex: Exchange) -> Any:
    """The parsed body as Fastify would hand it to the route, or an ApiError for parser failures."""
    ctype = (ex.header("Content-Type") or "").split(";")[0].strip().lower()
    if not ex.has_body:
        if ctype == "application/json":
            raise errors.request_error(400, "Body cannot be empty when content-type is set to 'application/json'")
        return MISSING
    raw = ex.read_body(BODY_LIMIT)
    if raw is None:
        raise errors.request_error(413, "Request body is too large")
    if ctype == "application/json":
        if not raw.strip():
            raise errors.request_error(
                400, "Body cannot be empty when content-type is set to 'application/json'"
            )
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise errors.request_error(400, f"Body is not valid JSON: {exc}") from None
    if ctype == "text/plain":
        return raw.decode("utf-8", errors="replace")
    return RawBody(raw)


def js_type(value: Any) -> str:
    if value is MISSING:
        return "undefined"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


@dataclass
class Invalid(Exception):
    issues: list[dict[str, Any]]

    def zod_message(self) -> str:
        return json.dumps(self.issues, indent=2)

    def first_field(self) -> tuple[str, str]:
        issue = self.issues[0]
        field = ".".join(str(p) for p in issue["path"])
        return field, issue["message"]


def _type_issue(path: list[str], expected: str, value: Any) -> dict[str, Any]:
    received = js_type(value)
    message = "Required" if received == "undefined" else f"Expected {expected}, received {received}"
    return {"code": "invalid_type", "expected": expected, "received": received, "path": path, "message": message}


def _enum_issue(path: list[str], options: tuple[str, ...], value: Any) -> dict[str, Any]:
    return {
        "received": value, "code": "invalid_enum_value", "options": list(options), "path": path,
        "message": "Invalid enum value. Expected " + " | ".join(f"'{o}'" for o in options)
        + f", received '{value}'",
    }


def _object(body: Any) -> dict[str, Any]:
    if isinstance(body, RawBody):
        return {}
    if not isinstance(body, dict):
        raise Invalid([_type_issue([], "object", body)])
    return body


def _get(obj: dict[str, Any], name: str) -> Any:
    return obj.get(name, MISSING)


def _enum_field(obj: dict[str, Any], name: str, options: tuple[str, ...], issues: list[dict[str, Any]]) -> Any:
    value = _get(obj, name)
    if value is MISSING:
        return MISSING
    if not isinstance(value, str):
        issues.append(_type_issue([name], " | ".join(f"'{o}'" for o in options), value))
        return MISSING
    if value not in options:
        issues.append(_enum_issue([name], options, value))
        return MISSING
    return value


def _string_field(
    obj: dict[str, Any], name: str, lo: int, hi: int, issues: list[dict[str, Any]], required: bool = False
) -> Any:
    value = _get(obj, name)
    if value is MISSING:
        if required:
            issues.append(_type_issue([name], "string", value))
        return MISSING
    if not isinstance(value, str):
        issues.append(_type_issue([name], "string", value))
        return MISSING
    if len(value) < lo:
        issues.append({"code": "too_small", "minimum": lo, "type": "string", "inclusive": True, "exact": False,
                       "message": f"String must contain at least {lo} character(s)", "path": [name]})
        return MISSING
    if len(value) > hi:
        issues.append({"code": "too_big", "maximum": hi, "type": "string", "inclusive": True, "exact": False,
                       "message": f"String must contain at most {hi} character(s)", "path": [name]})
        return MISSING
    return value


def create_body(body: Any, *, missing_is_empty: bool) -> str:
    """The create schemas of both flows: ``{framework?}``; returns the framework."""
    if missing_is_empty and (body is MISSING or body is None):
        body = {}
    obj = _object(body)
    issues: list[dict[str, Any]] = []
    framework = _enum_field(obj, "framework", FRAMEWORKS, issues)
    if issues:
        raise Invalid(issues)
    return framework if framework is not MISSING else "nextjs-edge"


@dataclass
class StartParams:
    build_command: str
    output_dir: str
    package_manager: str
    lockfile_hash: str
    user_env: dict[str, str]


def start_body(body: Any) -> StartParams:
    """The from-source startSchema (contract §3.2)."""
    if body is MISSING or body is None:
        body = {}
    obj = _object(body)
    issues: list[dict[str, Any]] = []
    build_command = _string_field(obj, "buildCommand", 1, 500, issues)
    output_dir = _string_field(obj, "outputDir", 1, 200, issues)
    package_manager = _enum_field(obj, "packageManager", PACKAGE_MANAGERS, issues)
    lockfile_hash = _get(obj, "lockfileHash")
    if not isinstance(lockfile_hash, str):
        issues.append(_type_issue(["lockfileHash"], "string", lockfile_hash))
    elif not LOCKFILE_HASH.match(lockfile_hash):
        issues.append({"validation": "regex", "code": "invalid_string", "message": "Invalid",
                       "path": ["lockfileHash"]})
    user_env = _get(obj, "userEnv")
    if user_env is MISSING:
        user_env = {}
    elif not isinstance(user_env, dict):
        issues.append(_type_issue(["userEnv"], "object", user_env))
    else:
        for key, value in user_env.items():
            if not isinstance(value, str):
                issues.append(_type_issue(["userEnv", key], "string", value))
    if issues:
        raise Invalid(issues)
    return StartParams(
        build_command=build_command if build_command is not MISSING else "npx @cloudflare/next-on-pages",
        output_dir=output_dir if output_dir is not MISSING else ".vercel/output/static",
        package_manager=package_manager if package_manager is not MISSING else "npm",
        lockfile_hash=lockfile_hash,
        user_env=user_env,
    )


def validation_error(invalid: Invalid, quirks: bool) -> errors.ApiError:
    """Quirk mode: the server's 500 for an unmapped ZodError. Default: a 400 naming the field."""
    if quirks:
        return errors.internal_error("ZodError", invalid.zod_message())
    field, message = invalid.first_field()
    problem = {
        "Required": "is required",
        "Invalid": "does not match the expected format",
    }.get(message, f"is invalid: {message}")
    if field == "lockfileHash" and message == "Invalid":
        problem = "must be 8 to 64 lowercase hex characters (a-f, 0-9)"
    if not field and message == "Required":
        return errors.invalid_body("", "is missing; send a JSON object (e.g. {})", invalid.issues)
    return errors.invalid_body(field, problem, invalid.issues)
