"""Every error a user can see. Each one carries the cause and the fix, and prints as one line."""

from __future__ import annotations


class DeployError(Exception):
    """Base class: a failure the action reports as one line, then exits 1."""

    def __init__(self, message: str, fix: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def one_line(self) -> str:
        text = self.message if not self.fix else f"{self.message}. Fix: {self.fix}"
        return " ".join(text.split())


class InputError(DeployError):
    """An input (workflow `with:` value or command-line flag) is missing or malformed."""

    def __init__(self, name: str, problem: str, fix: str) -> None:
        super().__init__(f"input '{name}' {problem}", fix)
        self.input_name = name


class PackagingError(DeployError):
    """The folder to deploy cannot be packaged as Butterbase expects (layout, size, unreadable files)."""


class ApiError(DeployError):
    """The Butterbase API answered with an error, or not as the API contract says."""

    def __init__(
        self, message: str, fix: str = "", *, status: int | None = None, code: str | None = None
    ) -> None:
        super().__init__(message, fix)
        self.status = status
        self.code = code


class UploadError(DeployError):
    """The zip could not be stored at the presigned upload URL."""


class DeploymentFailed(DeployError):
    """The deployment reached ERROR (or another non-READY terminal status) on the server."""

    def __init__(self, message: str, fix: str = "", *, status: str = "ERROR") -> None:
        super().__init__(message, fix)
        self.status = status


class DeployTimeout(DeployError):
    """The deployment did not reach a terminal status within `timeout` seconds."""


class Cancelled(DeployError):
    """The run was cancelled (SIGINT/SIGTERM) and the remote deployment was asked to stop."""
