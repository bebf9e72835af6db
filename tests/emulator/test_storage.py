"""Contract §5: presigned uploads behave like S3/R2 (separate origin, signature, expiry, no chunked)."""

from __future__ import annotations

import http.client
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests
from emulator.emulator_client import Api, site_zip
from emulator_harness import Emulator, EmulatorFactory


def _put_raw(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.putrequest("PUT", f"{parts.path}?{parts.query}")
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.endheaders()
        if headers.get("Transfer-Encoding") == "chunked":
            conn.send(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
        else:
            conn.send(body)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


class _Zeros:
    """A file-like body of known length, so requests sends Content-Length (a generator goes chunked)."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.size = size

    def __len__(self) -> int:
        return self.size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        self.left -= n
        return b"z" * n


def test_upload_succeeds_with_any_content_type_and_returns_an_etag(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    created = api.create_ok()
    resp = requests.put(created["uploadUrl"], data=site_zip(), headers={"Content-Type": "text/plain"}, timeout=10)
    assert resp.status_code == 200
    assert resp.headers["ETag"].startswith('"')
    log = [r for r in fresh_emulator.requests_log() if r["server"] == "storage"]
    assert log[-1]["method"] == "PUT" and log[-1]["status"] == 200
    assert log[-1]["auth"] == "none"
    assert "X-Amz-Signature=REDACTED" in log[-1]["query"]


def test_chunked_upload_is_501_not_implemented(fresh_emulator: Emulator) -> None:
    created = Api(fresh_emulator).create_ok()
    status, body = _put_raw(created["uploadUrl"], b"zipzip", {"Transfer-Encoding": "chunked"})
    assert status == 501
    assert b"<Code>NotImplemented</Code>" in body
    assert fresh_emulator.requests_log()[-1]["chunked"] is True


def test_tampered_signature_or_url_is_403_signature_does_not_match(fresh_emulator: Emulator) -> None:
    created = Api(fresh_emulator).create_ok()
    url = created["uploadUrl"]
    bad_sig = url[:-4] + ("0000" if not url.endswith("0000") else "1111")
    resp = requests.put(bad_sig, data=b"x", timeout=10)
    assert resp.status_code == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in resp.text
    longer = url.replace("X-Amz-Expires=900", "X-Amz-Expires=3600")
    assert requests.put(longer, data=b"x", timeout=10).status_code == 403
    other_key = url.replace(created["id"], created["id"][:-1] + ("0" if created["id"][-1] != "0" else "1"))
    assert requests.put(other_key, data=b"x", timeout=10).status_code == 403


def test_presigned_put_url_cannot_be_used_with_another_method_or_host(fresh_emulator: Emulator) -> None:
    url = Api(fresh_emulator).create_ok()["uploadUrl"]
    assert requests.get(url, timeout=10).status_code == 403
    localhost = url.replace("127.0.0.1", "localhost")
    assert requests.put(localhost, data=b"x", timeout=10).status_code == 403


def test_no_signature_is_access_denied(fresh_emulator: Emulator) -> None:
    url = Api(fresh_emulator).create_ok()["uploadUrl"].split("?")[0]
    resp = requests.put(url, data=b"x", timeout=10)
    assert resp.status_code == 403 and "<Code>AccessDenied</Code>" in resp.text


def test_expired_url_is_403_request_has_expired(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory("--upload-ttl-prebuilt", "1", "--upload-ttl-source", "1")
    api = Api(emu)
    created = api.create_ok()
    assert created["expiresIn"] == 1
    source = api.create_source().json()
    time.sleep(2.1)
    for url in (created["uploadUrl"], source["upload_url"]):
        resp = requests.put(url, data=site_zip(), timeout=10)
        assert resp.status_code == 403
        assert "<Code>AccessDenied</Code>" in resp.text and "Request has expired" in resp.text
    started = api.start(created["id"])
    assert started.status_code == 400
    assert started.json()["error"]["message"] == "Upload URL expired"
    row = api.status(created["id"])
    assert (row["status"], row["error"]) == ("ERROR", "Upload expired")


def test_source_upload_url_lasts_600_seconds_by_default(fresh_emulator: Emulator) -> None:
    body = Api(fresh_emulator).create_source().json()
    assert "X-Amz-Expires=600" in body["upload_url"]
    assert f"/source/{body['deployment_id']}.zip?" in body["upload_url"]


def test_a_100_mb_upload_is_streamed_to_disk(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory()
    created = Api(emu).create_ok()
    size = 110 * 1024 * 1024
    resp = requests.put(created["uploadUrl"], data=_Zeros(size), timeout=120)
    assert resp.status_code == 200  # the advertised 100 MiB is not enforced by storage
    stored = Path(emu.state_dir, "objects", "app_demo", "_deployments", f"{created['id']}.zip")
    assert stored.stat().st_size == size
    status = Path(f"/proc/{emu.pid}/status").read_text()
    peak_kib = int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1])
    assert peak_kib < 80 * 1024, f"emulator peaked at {peak_kib} KiB while receiving {size} bytes"
