"""Every error body the emulated control API can answer with.

The shapes and wording follow the real control-api (contract §1, §2): a nested
``{"error": {code, message, remediation, documentation_url?, details?}}`` envelope.
Which errors carry ``documentation_url`` mirrors the server: route-level errors do,
the root error handler's ``REQUEST_ERROR`` / ``INTERNAL_ERROR`` do not.
"""

from __future__ import annotations

import json
from typing import Any

DOCS_BASE = "https://docs.butterbase.ai"


def doc_url(code: str) -> str:
    return f"{DOCS_BASE}/errors#{code.lower().replace('_', '-')}"


class ApiError(Exception):
    """An error answer of the control API, raised anywhere in a handler."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        remediation: str,
        *,
        with_doc_url: bool = True,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.remediation = remediation
        self.with_doc_url = with_doc_url
        self.details = details
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "remediation": self.remediation,
        }
        if self.with_doc_url:
            error["documentation_url"] = doc_url(self.code)
        if self.details is not None:
            error["details"] = self.details
        return {"error": error}

    def json_bytes(self) -> bytes:
        return json.dumps(self.body()).encode()


# --- authentication (contract §1) -------------------------------------------------


def invalid_api_key() -> ApiError:
    return ApiError(
        401,
        "AUTH_INVALID_API_KEY",
        "Invalid or revoked API key",
        "Check that your API key is correct and has not been revoked. Generate a new key if needed.",
    )


def invalid_token() -> ApiError:
    return ApiError(
        401,
        "AUTH_INVALID_TOKEN",
        "Invalid JWT token",
        "Verify your JWT token is valid and not expired. If using Cognito, ensure the token was issued "
        "for the correct user pool.",
    )


def request_error(status: int, message: str) -> ApiError:
    """What the root error handler makes of any typed 4xx (body parser, auth, size)."""
    return ApiError(
        status, "REQUEST_ERROR", message, "Check your request parameters and retry.", with_doc_url=False
    )


def authentication_required() -> ApiError:
    return request_error(401, "Authentication required")


# --- not found --------------------------------------------------------------------


def app_not_found() -> ApiError:
    """From the edge-SSR plugins' own handler (AppResolver failure)."""
    return ApiError(
        404,
        "RESOURCE_NOT_FOUND",
        "App not found",
        "Verify the app_id is correct. Use list_apps to see available apps. If you just called init_app, "
        "the database may still be provisioning — wait a few seconds and retry.",
    )


def app_region_not_found(app_id: str) -> ApiError:
    """From the fly-replay hook, which runs before auth resolution on prebuilt routes."""
    return ApiError(
        404,
        "RESOURCE_NOT_FOUND",
        f"App {app_id} not found",
        "Verify the app id (use list_apps via MCP or `butterbase apps list`). Confirm the caller owns the app.",
        with_doc_url=False,
    )


def deployment_not_found() -> ApiError:
    return ApiError(
        404,
        "RESOURCE_NOT_FOUND",
        "Deployment not found",
        "Verify the deployment ID is correct. Use list_edge_ssr_deployments to see available deployments.",
    )


def route_not_found(method: str, path: str) -> dict[str, Any]:
    """Fastify's default 404 body: the flat ``{error: <string>, message}`` shape of contract §2."""
    return {"message": f"Route {method}:{path} not found", "error": "Not Found", "statusCode": 404}


# --- input ------------------------------------------------------------------------


def invalid_uuid() -> ApiError:
    """Postgres 22P02 on a non-UUID id, mapped by the plugin's detectInvalidInput."""
    return ApiError(
        400,
        "VALIDATION_INVALID_INPUT",
        "Invalid input value for one or more fields",
        "Check that each field matches its column type. JSON columns require a JSON value (object/array), "
        "not a stringified array literal; numeric/date columns require properly formatted values.",
        details={"pg_code": "22P02"},
    )


def invalid_body(field: str, problem: str, issues: list[dict[str, Any]]) -> ApiError:
    """Default mode: the 400 the server should give for a body that fails validation."""
    where = f"`{field}`" if field else "the request body"
    return ApiError(
        400,
        "VALIDATION_INVALID_INPUT",
        f"Invalid request body: {where} {problem}",
        "Fix the named field and retry. See the API contract for the accepted values.",
        details={"field": field, "issues": issues},
    )


def internal_error(error_class: str, error_message: str) -> ApiError:
    """The root handler's 500; ``details`` are what a non-production server adds."""
    return ApiError(
        500,
        "INTERNAL_ERROR",
        "An internal error occurred while processing your request",
        "This is an unexpected error. Please retry the request. If the problem persists, check your inputs "
        "and consult the documentation.",
        with_doc_url=False,
        details={"error_class": error_class, "error_message": error_message},
    )


# --- deployment state (prebuilt DeploymentError mapping, contract §3.1) --------------


def cloudflare_error(message: str, remediation: str) -> ApiError:
    return ApiError(400, "EXTERNAL_CLOUDFLARE_ERROR", message, remediation)
