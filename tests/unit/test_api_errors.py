"""Narrow tests of the HTTP client's error mapping and retries (the emulator covers the rest)."""

import pytest
import requests
import responses

from butterbase_edge_deploy.api import ButterbaseClient
from butterbase_edge_deploy.errors import ApiError

API = "https://api.test"
KEY = "bb_sk_" + "d" * 40
DEP = "11111111-2222-3333-4444-555555555555"
BASE = f"{API}/v1/app_demo/edge-ssr"


def _client() -> ButterbaseClient:
    return ButterbaseClient(API, KEY, "app_demo")


def _nested(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message, "remediation": "r"}}


CASES = [
    (401, _nested("AUTH_INVALID_API_KEY", "Invalid or revoked API key"), "API key was rejected", "bb_sk_"),
    (401, _nested("REQUEST_ERROR", "Authentication required"), "did not accept the credentials", "api_key"),
    (404, _nested("RESOURCE_NOT_FOUND", "App not found"), "app 'app_demo' was not found", "app_id"),
    (400, _nested("EXTERNAL_CLOUDFLARE_ERROR", "Upload URL expired"), "upload window expired", "15 minutes"),
    (400, _nested("EXTERNAL_CLOUDFLARE_ERROR", "Deployment x is in READY status, cannot start"),
     "no longer waiting", "new deploy"),
    (400, _nested("EXTERNAL_CLOUDFLARE_ERROR", "Deployment not found"), "deployment was not found", "deployment_id"),
    (400, _nested("VALIDATION_INVALID_INPUT", "invalid input syntax for type uuid"), "rejected a value", "UUID"),
    (409, _nested("STATE_PREREQUISITE_MISSING", "Source not uploaded"), "not in storage", "again"),
    (409, _nested("APP_PROVISIONING", "provisioning"), "being provisioned", "wait"),
    (410, _nested("APP_DELETING", "deleting"), "being deleted", "another app_id"),
    (413, _nested("QUOTA_FILE_SIZE_EXCEEDED", "too big"), "larger than the server accepts", ".butterbaseignore"),
    (402, {"error": "account_soft_locked", "message": "locked"}, "soft-locked", "billing"),
    (403, {"error": "account_suspended", "message": "suspended"}, "access was refused", "suspended"),
    (503, _nested("EXTERNAL_CLOUDFLARE_ERROR", "WfP not configured"), "not configured", "support"),
]


@pytest.mark.parametrize(("status", "body", "cause", "fix"), CASES)
@responses.activate
def test_error_envelopes_map_to_cause_and_fix(status: int, body: dict, cause: str, fix: str) -> None:
    responses.post(f"{BASE}/deployments/{DEP}/start", json=body, status=status)
    with pytest.raises(ApiError) as caught:
        _client().start_prebuilt(DEP)
    assert cause in caught.value.message and fix in caught.value.fix
    assert caught.value.status == status
    assert "\n" not in caught.value.one_line()


@responses.activate
def test_from_source_start_500_suggests_the_prebuilt_flow() -> None:
    responses.post(f"{BASE}/deployments/from-source/{DEP}/start",
                   json=_nested("INTERNAL_ERROR", "An internal error occurred"), status=500)
    with pytest.raises(ApiError) as caught:
        _client().start_from_source(DEP, build_command="b", output_dir="o", package_manager="npm",
                                    lockfile_hash="a" * 64, user_env={})
    assert "known Butterbase server issue" in caught.value.message and "flow: prebuilt" in caught.value.fix
    assert len(responses.calls) == 1  # a POST that failed on the server is not repeated


@responses.activate
def test_get_retries_5xx_and_html_bodies_then_succeeds() -> None:
    url = f"{BASE}/deployments/{DEP}"
    responses.get(url, body="<html>bad gateway</html>", status=502, content_type="text/html")
    responses.get(url, body="", status=503)
    responses.get(url, json={"id": DEP, "status": "READY", "url": "https://x.test"})
    deployment = _client().get(DEP)
    assert deployment.status == "READY" and len(responses.calls) == 3


@responses.activate
def test_post_is_retried_on_429_with_retry_after_only() -> None:
    url = f"{BASE}/deployments"
    responses.post(url, json=_nested("REQUEST_ERROR", "Rate limit exceeded, retry in 1 second"), status=429,
                   headers={"Retry-After": "0"})
    responses.post(url, json={"id": DEP, "uploadUrl": "https://storage.test/u?sig=1", "expiresIn": 900,
                              "maxSizeBytes": 104857600})
    upload = _client().create_prebuilt("nextjs-edge")
    assert upload.deployment_id == DEP and len(responses.calls) == 2
    assert responses.calls[1].request.body == b'{"framework": "nextjs-edge"}'


@responses.activate
def test_html_error_body_is_reported_as_not_the_butterbase_format() -> None:
    responses.post(f"{BASE}/deployments", body="<html>oops</html>", status=418, content_type="text/html")
    with pytest.raises(ApiError) as caught:
        _client().create_prebuilt("nextjs-edge")
    assert "not the Butterbase error format" in caught.value.message


@responses.activate
def test_non_json_success_is_an_unexpected_answer() -> None:
    responses.get(f"{BASE}/deployments", body="<html>login</html>", status=200, content_type="text/html")
    with pytest.raises(ApiError, match="not JSON"):
        _client().list()


@responses.activate
def test_redirects_are_not_followed_and_the_key_stays_home() -> None:
    responses.get(f"{BASE}/deployments", status=302, headers={"Location": "https://evil.test/steal"})
    responses.get("https://evil.test/steal", json={"deployments": []})
    with pytest.raises(ApiError, match=r"redirects to https://evil\.test"):
        _client().list()
    assert [call.request.url for call in responses.calls] == [f"{BASE}/deployments"]


@responses.activate
def test_the_key_is_sent_as_bearer_and_log_urls_elsewhere_are_refused() -> None:
    responses.get(f"{BASE}/deployments", json={"deployments": []})
    client = _client()
    client.list()
    assert responses.calls[0].request.headers["Authorization"] == f"Bearer {KEY}"
    with pytest.raises(ApiError, match="another host"):
        client.open_log_stream("https://evil.test/logs")
    assert client.resolve("/v1/app_demo/x") == f"{API}/v1/app_demo/x"


@responses.activate
def test_connection_errors_become_one_line() -> None:
    responses.get(f"{BASE}/deployments", body=requests.ConnectionError("refused"))
    with pytest.raises(ApiError, match=r"no connection to https://api\.test:443"):
        _client().list()
