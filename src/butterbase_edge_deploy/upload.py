"""PUT the zip to the presigned URL: streamed from disk with a Content-Length, never chunked,
never with the API key, and never printing the URL's signed query."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from butterbase_edge_deploy.api import USER_AGENT
from butterbase_edge_deploy.errors import UploadError

Progress = Callable[[int, int], None]
_BLOCK = 256 * 1024
_QUERY = re.compile(r"\?[^\s'\")]*")


class _ProgressFile:
    """A file body that reports progress; seek/tell let urllib3 rewind it when it retries."""

    def __init__(self, handle: BinaryIO, size: int, progress: Progress) -> None:
        self._handle = handle
        self._size = size
        self._progress = progress
        self.len = size  # requests reads this to set Content-Length

    def read(self, amount: int = -1) -> bytes:
        data = self._handle.read(_BLOCK if amount is None or amount < 0 else max(amount, _BLOCK))
        self._progress(self._handle.tell(), self._size)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._handle.seek(offset, whence)

    def tell(self) -> int:
        return self._handle.tell()


def safe_location(url: str) -> str:
    """Where an upload goes, for logs: scheme, host and path; the signed query stays hidden."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def put_zip(upload_url: str, zip_path: Path, progress: Progress, *, timeout: float = 900) -> float:
    """Upload and return the seconds it took. Storage errors come back as one line."""
    size = zip_path.stat().st_size
    session = requests.Session()
    session.trust_env = True
    # PUT of the same object is idempotent: retry resets and 5xx with backoff, rewinding the file.
    retry = Retry(total=3, connect=3, read=3, status=3, backoff_factor=1, allowed_methods=frozenset({"PUT"}),
                  status_forcelist=(500, 502, 503, 504), raise_on_status=False)
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    started = time.monotonic()
    try:
        with open(zip_path, "rb") as handle:
            response = session.put(
                upload_url, data=_ProgressFile(handle, size, progress), timeout=(15, timeout),
                allow_redirects=False,
                headers={"Content-Type": "application/zip", "Content-Length": str(size), "User-Agent": USER_AGENT},
            )
    except requests.RequestException as exc:
        raise UploadError(f"upload to {safe_location(upload_url)} failed: {_reason(exc)}",
                          "run the job again; if it keeps failing, check the runner's network") from None
    finally:
        session.close()
    if response.status_code >= 300:
        code = _s3_code(response.text)
        if response.status_code == 403:
            raise UploadError(f"storage refused the upload (HTTP 403{', ' + code if code else ''}): the upload URL "
                              "expired or its signature was rejected",
                              "run the job again (each run gets a fresh URL); check the runner's clock")
        raise UploadError(f"storage answered HTTP {response.status_code}{' ' + code if code else ''} to the upload",
                          "run the job again; if it persists, contact Butterbase")
    return time.monotonic() - started


def _s3_code(body: str) -> str:
    start = body.find("<Code>")
    end = body.find("</Code>")
    if 0 <= start < end:
        return body[start + 6:end][:60]
    return ""


def _reason(exc: BaseException) -> str:
    text = str(exc)
    # urllib3 quotes the request target, signed query included; keep only the cause.
    if "Caused by" in text:
        text = text.split("Caused by", 1)[1]
    text = _QUERY.sub("?…", text)
    return text.strip(" ()")[:200] or type(exc).__name__
