"""Object storage: presigned PUT URLs, their verification, and the objects on disk.

Stands in for R2. The upload URL points at a separate listener (another origin, as
R2 is) and carries SigV4-style query parameters. The signature is an HMAC over the
method, path, host and the other query parameters, so a URL that is edited, used
with another method or sent to another host fails the way S3 fails:
``403 SignatureDoesNotMatch``. Errors are S3 XML bodies, not the API's JSON envelope.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import re
import secrets
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote
from xml.sax.saxutils import escape

if TYPE_CHECKING:
    from .exchange import Exchange

BUCKET = "butterbase-emulator"
ACCESS_KEY_ID = "EMULATORACCESSKEY000"
AMZ_DATE = "%Y%m%dT%H%M%SZ"
MAX_PRESIGN_EXPIRES = 604800

# The only keys the emulator ever presigns or writes.
KEY_PATTERN = re.compile(
    r"^(app_[a-z0-9]+/_deployments/[0-9a-f-]{36}\.zip"
    r"|source/[0-9a-f-]{36}\.zip"
    r"|artifact/[0-9a-f-]{36}\.zip"
    r"|logs/[0-9a-f-]{36}\.(txt|status\.json)"
    r"|cache/app_[a-z0-9]+/[a-f0-9]{8,64}\.tar)$"
)


def _canonical_query(params: list[tuple[str, str]]) -> str:
    pairs = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in params)
    return "&".join(f"{k}={v}" for k, v in pairs)


class StorageError(Exception):
    """An S3-style refusal, answered as an XML ``<Error>`` document."""

    def __init__(self, status: int, code: str, message: str, extra: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra or {}

    def xml(self) -> bytes:
        extra = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in self.extra.items())
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{self.code}</Code><Message>{escape(self.message)}</Message>{extra}"
            f"<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></Error>"
        ).encode()


def signature_mismatch() -> StorageError:
    return StorageError(
        403,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method.",
    )


@dataclass
class Presigner:
    secret: bytes
    public_host: str  # "127.0.0.1:9000" — the Host header a client will send

    def _signature(self, method: str, path: str, host: str, params: list[tuple[str, str]]) -> str:
        canonical = "\n".join([method, path, _canonical_query(params), f"host:{host.lower()}", "host"])
        return hmac.new(self.secret, canonical.encode(), hashlib.sha256).hexdigest()

    def presign_put(self, key: str, expires_in: int, metadata: dict[str, str] | None = None) -> str:
        now = datetime.now(UTC)
        params: list[tuple[str, str]] = [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD"),
            ("X-Amz-Credential", f"{ACCESS_KEY_ID}/{now:%Y%m%d}/auto/s3/aws4_request"),
            ("X-Amz-Date", now.strftime(AMZ_DATE)),
            ("X-Amz-Expires", str(expires_in)),
            ("X-Amz-SignedHeaders", "host"),
        ]
        for name, value in (metadata or {}).items():
            params.append((f"x-amz-meta-{name}", value))
        params.append(("x-id", "PutObject"))
        path = f"/{BUCKET}/{quote(key, safe='/-_.~')}"
        signature = self._signature("PUT", path, self.public_host, params)
        return f"http://{self.public_host}{path}?{_canonical_query(params)}&X-Amz-Signature={signature}"

    def verify(self, method: str, path: str, host: str, params: list[tuple[str, str]]) -> str:
        """Return the object key the request may write, or raise StorageError."""
        given = [v for k, v in params if k == "X-Amz-Signature"]
        rest = [(k, v) for k, v in params if k != "X-Amz-Signature"]
        names = {k for k, _ in rest}
        if not given or not {"X-Amz-Date", "X-Amz-Expires", "X-Amz-Credential"} <= names:
            raise StorageError(403, "AccessDenied", "Access Denied")
        expected = self._signature(method, path, host, rest)
        if not hmac.compare_digest(expected, given[0]):
            raise signature_mismatch()
        values = dict(rest)
        try:
            signed_at = datetime.strptime(values["X-Amz-Date"], AMZ_DATE).replace(tzinfo=UTC)
            expires = int(values["X-Amz-Expires"])
        except ValueError:
            raise StorageError(400, "AuthorizationQueryParametersError", "Invalid X-Amz-Date or X-Amz-Expires") \
                from None
        if not 0 < expires <= MAX_PRESIGN_EXPIRES:
            raise StorageError(
                400, "AuthorizationQueryParametersError",
                "X-Amz-Expires must be less than a week (in seconds) that is; 604800",
            )
        now = datetime.now(UTC)
        deadline = signed_at + timedelta(seconds=expires)
        if now > deadline:
            raise StorageError(
                403, "AccessDenied", "Request has expired",
                {
                    "X-Amz-Expires": str(expires),
                    "Expires": deadline.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "ServerTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                },
            )
        prefix = f"/{BUCKET}/"
        if not path.startswith(prefix):
            raise StorageError(404, "NoSuchBucket", "The specified bucket does not exist")
        return path[len(prefix):]


class ObjectStore:
    """Objects as files under ``root``, written atomically (readers never see half a PUT)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._tmp = root / ".incoming"
        self._tmp.mkdir(exist_ok=True)
        self._lock = threading.Lock()

    def path(self, key: str) -> Path:
        if not KEY_PATTERN.match(key) or ".." in key.split("/"):
            raise ValueError(f"not an emulator object key: {key!r}")
        return self.root / key

    def head(self, key: str) -> int | None:
        try:
            return self.path(key).stat().st_size
        except (FileNotFoundError, ValueError):
            return None

    def temp_path(self) -> Path:
        return self._tmp / f"{uuid.uuid4().hex}.part"

    def commit(self, temp: Path, key: str) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temp, target)

    def put_bytes(self, key: str, data: bytes) -> None:
        temp = self.temp_path()
        temp.write_bytes(data)
        self.commit(temp, key)

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError, ValueError):
            self.path(key).unlink()


def new_secret() -> str:
    return secrets.token_hex(32)


def handle_storage_request(ex: Exchange, presigner: Presigner, objects: ObjectStore) -> None:
    """Serve one request on the storage listener (only presigned PUTs succeed)."""
    try:
        if ex.chunked:
            ex.drain()
            raise StorageError(
                501, "NotImplemented", "A header you provided implies functionality that is not implemented",
                {"Header": "Transfer-Encoding"},
            )
        host = ex.header("Host") or ""
        key = presigner.verify(ex.method, ex.path, host, ex.query)
        if ex.method != "PUT":  # unreachable with a PUT-signed URL, kept for clarity
            raise signature_mismatch()
        if ex.content_length is None:
            raise StorageError(411, "MissingContentLength", "You must provide the Content-Length HTTP header.")
        temp = objects.temp_path()
        digest = hashlib.md5(usedforsecurity=False)
        try:
            with open(temp, "wb") as out:
                for data in ex.iter_body():
                    digest.update(data)
                    out.write(data)
            objects.commit(temp, key)
        finally:
            temp.unlink(missing_ok=True)
        ex.send(200, b"", None, {"ETag": f'"{digest.hexdigest()}"'})
    except StorageError as err:
        ex.drain()
        ex.send(err.status, err.xml() if ex.method != "HEAD" else b"", "application/xml")
