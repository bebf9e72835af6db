"""Contract §1 (401 bodies, check order) and §2 (error envelope, body parser errors, bad requests)."""

from __future__ import annotations

import contextlib
import socket
import uuid

import pytest
import requests
from emulator.emulator_client import Api
from emulator_harness import Emulator


def _post_create(emu: Emulator, headers: dict[str, str], app: str = "app_demo", **kw: object) -> requests.Response:
    return requests.post(f"{emu.url}/v1/{app}/edge-ssr/deployments", headers=headers, timeout=10, **kw)


def test_unknown_bb_sk_key_is_auth_invalid_api_key(fresh_emulator: Emulator) -> None:
    resp = _post_create(fresh_emulator, {"Authorization": "Bearer bb_sk_" + "f" * 40}, json={})
    assert resp.status_code == 401
    assert resp.json() == {"error": {
        "code": "AUTH_INVALID_API_KEY",
        "message": "Invalid or revoked API key",
        "remediation": "Check that your API key is correct and has not been revoked. Generate a new key if needed.",
        "documentation_url": "https://docs.butterbase.ai/errors#auth-invalid-api-key",
    }}


def test_other_bearer_is_auth_invalid_token(fresh_emulator: Emulator) -> None:
    resp = requests.get(f"{fresh_emulator.url}/v1/app_demo/edge-ssr/deployments",
                        headers={"Authorization": "Bearer eyJhbGciOi.not.ajwt"}, timeout=10)
    assert resp.status_code == 401
    err = resp.json()["error"]
    assert (err["code"], err["message"]) == ("AUTH_INVALID_TOKEN", "Invalid JWT token")


def test_no_authorization_header_is_request_error_authentication_required(fresh_emulator: Emulator) -> None:
    resp = requests.get(f"{fresh_emulator.url}/v1/app_demo/edge-ssr/deployments", timeout=10)
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "REQUEST_ERROR"
    assert resp.json()["error"]["message"] == "Authentication required"


@pytest.mark.parametrize("header", ["Basic abc", "bearer " + "x" * 20, "Bearer ", "Bearer bb_sub_abc"])
def test_headers_the_auth_hook_does_not_read_as_a_token_are_anonymous(fresh_emulator: Emulator,
                                                                      header: str) -> None:
    resp = requests.get(f"{fresh_emulator.url}/v1/app_demo/edge-ssr/deployments",
                        headers={"Authorization": header}, timeout=10)
    assert resp.status_code == 401
    assert resp.json()["error"]["message"] == "Authentication required"


def test_bad_key_wins_over_a_bad_body(fresh_emulator: Emulator) -> None:
    resp = _post_create(fresh_emulator, {"Authorization": "Bearer bb_sk_nope", "Content-Type": "application/json"},
                        data=b"{broken")
    assert resp.status_code == 401


def test_on_prebuilt_create_a_bad_body_beats_a_missing_auth_header(fresh_emulator: Emulator) -> None:
    malformed = _post_create(fresh_emulator, {"Content-Type": "application/json"}, data=b"{broken")
    assert malformed.status_code == 400 and malformed.json()["error"]["code"] == "REQUEST_ERROR"
    invalid = _post_create(fresh_emulator, {}, json={"framework": "vue"})
    assert invalid.status_code == 400 and invalid.json()["error"]["code"] == "VALIDATION_INVALID_INPUT"


def test_unknown_app_on_prebuilt_routes_is_404_even_without_auth(fresh_emulator: Emulator) -> None:
    resp = _post_create(fresh_emulator, {}, app="app_nobody", json={})
    assert resp.status_code == 404
    assert resp.json()["error"]["message"] == "App app_nobody not found"
    assert "documentation_url" not in resp.json()["error"]


def test_unknown_app_on_from_source_routes_needs_auth_first(fresh_emulator: Emulator) -> None:
    url = f"{fresh_emulator.url}/v1/app_nobody/edge-ssr/deployments/from-source"
    assert requests.post(url, json={}, timeout=10).status_code == 401
    resp = requests.post(url, json={}, headers={"Authorization": f"Bearer {fresh_emulator.api_key}"}, timeout=10)
    assert resp.status_code == 404
    err = resp.json()["error"]
    assert err["message"] == "App not found"
    assert err["documentation_url"] == "https://docs.butterbase.ai/errors#resource-not-found"


def test_error_envelope_shape(fresh_emulator: Emulator) -> None:
    resp = Api(fresh_emulator).get(str(uuid.uuid4()))
    body = resp.json()
    assert set(body) == {"error"}
    assert {"code", "message", "remediation", "documentation_url"} <= set(body["error"])


def test_json_content_type_with_empty_body_is_400_request_error(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    resp = api.session.post(api.url(), headers={"Content-Type": "application/json"}, timeout=10)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "REQUEST_ERROR"
    assert "Body cannot be empty" in resp.json()["error"]["message"]


def test_json_body_over_1_mib_is_413(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    resp = api.session.post(api.url(), data=b'{"x":"' + b"a" * (1024 * 1024 + 10) + b'"}',
                            headers={"Content-Type": "application/json"}, timeout=30)
    assert resp.status_code == 413
    assert resp.json()["error"]["code"] == "REQUEST_ERROR"


def test_unknown_routes_get_fastifys_flat_404(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    resp = api.session.get(f"{fresh_emulator.url}/v1/app_demo/nothing-here", timeout=10)
    assert resp.status_code == 404
    assert resp.json() == {"message": "Route GET:/v1/app_demo/nothing-here not found", "error": "Not Found",
                           "statusCode": 404}
    wrong_method = api.session.put(api.url(), json={}, timeout=10)
    assert wrong_method.status_code == 404


@pytest.mark.parametrize("body", [[], "x", 5, None])
def test_prebuilt_create_rejects_non_object_bodies_in_default_mode(fresh_emulator: Emulator, body: object) -> None:
    resp = Api(fresh_emulator).create(body if body is not None else None)
    if body is None:  # json=None sends "{}" through the helper, so send a real JSON null
        api = Api(fresh_emulator)
        resp = api.session.post(api.url(), data=b"null", headers={"Content-Type": "application/json"}, timeout=10)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "VALIDATION_INVALID_INPUT"


def test_prebuilt_create_without_body_is_400_in_default_mode(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    resp = api.session.post(api.url(), timeout=10)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "VALIDATION_INVALID_INPUT"


def test_from_source_create_accepts_no_body(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    resp = api.session.post(api.url("from-source"), timeout=10)
    assert resp.status_code == 201


def test_validation_errors_name_the_field(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    bad_framework = api.create({"framework": "vue"})
    assert bad_framework.status_code == 400
    assert "framework" in bad_framework.json()["error"]["message"]
    dep = api.create_source().json()["deployment_id"]
    cases = [
        ({"lockfileHash": "ABCDEF12"}, "lockfileHash"),
        ({}, "lockfileHash"),
        ({"lockfileHash": "abcdef12", "userEnv": {"A": 1}}, "userEnv.A"),
        ({"lockfileHash": "abcdef12", "buildCommand": ""}, "buildCommand"),
        ({"lockfileHash": "abcdef12", "outputDir": "x" * 201}, "outputDir"),
        ({"lockfileHash": "abcdef12", "packageManager": "bun"}, "packageManager"),
    ]
    for body, field in cases:
        resp = api.start_source(dep, body)
        assert resp.status_code == 400, (body, resp.text)
        err = resp.json()["error"]
        assert err["code"] == "VALIDATION_INVALID_INPUT"
        assert f"`{field}`" in err["message"], (field, err["message"])
        assert err["details"]["field"] == field


def test_malformed_requests_never_kill_the_server(fresh_emulator: Emulator) -> None:
    host, port = fresh_emulator.url.removeprefix("http://").split(":")
    garbage = [
        b"NOT-HTTP\r\n\r\n",
        b"POST /v1/app_demo/edge-ssr/deployments HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        b"POST /v1/app_demo/edge-ssr/deployments HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"a\"",
        b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
    ]
    for payload in garbage:
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
            with contextlib.suppress(OSError):
                sock.recv(65536)
    assert Api(fresh_emulator).create_ok()["id"]


def test_chunked_json_bodies_are_accepted(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    resp = api.session.post(api.url(), data=iter([b'{"frame', b'work": "other-edge"}']),
                            headers={"Content-Type": "application/json"}, timeout=10)
    assert resp.status_code == 200
    assert api.status(resp.json()["id"])["framework"] == "other-edge"
