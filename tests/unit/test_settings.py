from pathlib import Path

import pytest

from butterbase_edge_deploy.errors import InputError
from butterbase_edge_deploy.settings import load, parse_user_env, raw_secrets

KEY = "bb_sk_" + "a" * 40


def _load(tmp_path: Path, **raw: str):
    base = {"api_key": KEY, "app_id": "app_demo"}
    base.update(raw)
    return load(base, workspace=tmp_path, confine_to_workspace=True)


def test_defaults(tmp_path: Path) -> None:
    settings = _load(tmp_path)
    assert settings.api_url == "https://api.butterbase.ai"
    assert settings.flow == "auto"
    assert settings.framework == "nextjs-edge"
    assert settings.output_dir == ".vercel/output/static"
    assert settings.working_directory == tmp_path.resolve()
    assert settings.timeout == 600
    assert settings.user_env == {}
    assert settings.package_manager is None
    assert settings.dry_run is False


@pytest.mark.parametrize("url", ["http://localhost:4000", "http://127.0.0.1:4000", "http://172.17.0.1:4000",
                                 "http://[::1]:4000", "https://api.butterbase.ai/"])
def test_plain_http_only_for_local_addresses(tmp_path: Path, url: str) -> None:
    assert _load(tmp_path, api_url=url).api_url == url.rstrip("/")


def test_values_are_trimmed_and_normalised(tmp_path: Path) -> None:
    (tmp_path / "web").mkdir()
    settings = _load(tmp_path, flow=" Source ", working_directory="web", output_dir="dist/",
                     api_url="http://127.0.0.1:4000/", timeout="30", dry_run="true")
    assert settings.flow == "source"
    assert settings.working_directory == (tmp_path / "web").resolve()
    assert settings.output_dir == "dist"
    assert settings.api_url == "http://127.0.0.1:4000"
    assert settings.timeout == 30 and settings.dry_run is True


BAD_INPUTS = [
    ({"api_key": ""}, "api_key"),
    ({"api_key": "bb_sk_abc\nxyz"}, "api_key"),
    ({"app_id": ""}, "app_id"),
    ({"app_id": "App_Demo"}, "app_id"),
    ({"app_id": "demo"}, "app_id"),
    ({"app_id": "app_demo; rm -rf /"}, "app_id"),
    ({"api_url": "api.butterbase.ai"}, "api_url"),
    ({"api_url": "ftp://api.butterbase.ai"}, "api_url"),
    ({"api_url": "http://api.butterbase.ai"}, "api_url"),
    ({"api_url": "https://user:pw@api.butterbase.ai"}, "api_url"),
    ({"api_url": "https://api.butterbase.ai?x=1"}, "api_url"),
    ({"api_url": "https://api.butterbase.ai:99999"}, "api_url"),
    ({"flow": "deploy"}, "flow"),
    ({"framework": "nextjs"}, "framework"),
    ({"package_manager": "bun"}, "package_manager"),
    ({"timeout": "ten"}, "timeout"),
    ({"timeout": "0"}, "timeout"),
    ({"timeout": "-5"}, "timeout"),
    ({"timeout": "999999"}, "timeout"),
    ({"dry_run": "maybe"}, "dry_run"),
    ({"fail_on": "warning"}, "fail_on"),
    ({"comment": "sometimes"}, "comment"),
    ({"production": "prod"}, "production"),
    ({"environment": "preview\nprod"}, "environment"),
    ({"deployment_id": "123"}, "deployment_id"),
    ({"user_env": "- a\n- b"}, "user_env"),
    ({"user_env": "PORT: 3000"}, "user_env"),
    ({"user_env": "DEBUG: true"}, "user_env"),
    ({"user_env": "NESTED:\n  a: b"}, "user_env"),
    ({"user_env": "1BAD: x"}, "user_env"),
    ({"user_env": "BAD-NAME: x"}, "user_env"),
    ({"user_env": "just some text"}, "user_env"),
    ({"user_env": "a: [unclosed"}, "user_env"),
    ({"working_directory": "missing"}, "working_directory"),
    ({"working_directory": "file.txt"}, "working_directory"),
    ({"working_directory": "../.."}, "working_directory"),
    ({"working_directory": "/etc"}, "working_directory"),
    ({"working_directory": "apps\\web"}, "working_directory"),
    ({"output_dir": "/etc"}, "output_dir"),
    ({"output_dir": "../out"}, "output_dir"),
    ({"output_dir": ".vercel\\output\\static"}, "output_dir"),
    ({"output_dir": "."}, "output_dir"),
    ({"build_command": "x" * 501}, "build_command"),
    ({"build_command": "npm ci\nnpm run build"}, "build_command"),
]


@pytest.mark.parametrize(("raw", "name"), BAD_INPUTS, ids=[f"{n}-{i}" for i, (_, n) in enumerate(BAD_INPUTS)])
def test_bad_input_names_the_input_and_a_fix(tmp_path: Path, raw: dict[str, str], name: str) -> None:
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(InputError) as caught:
        _load(tmp_path, **raw)
    error = caught.value
    assert error.input_name == name
    line = error.one_line()
    assert f"input '{name}'" in line and "Fix: " in line
    assert "\n" not in line


def test_user_env_yaml_and_dotenv_forms() -> None:
    assert parse_user_env("A: one\nB: 'two words'\n") == {"A": "one", "B": "two words"}
    assert parse_user_env("A=one\nexport B=\"two words\"\n# comment\n") == {"A": "one", "B": "two words"}
    assert parse_user_env("URL=https://x.test/?a=b") == {"URL": "https://x.test/?a=b"}
    assert parse_user_env("") == {}


def test_secret_values_are_found_even_when_user_env_is_invalid() -> None:
    assert raw_secrets({"api_key": KEY, "user_env": "TOKEN: s3cr3t-value"}) == [KEY, "s3cr3t-value"]
    found = raw_secrets({"api_key": KEY, "user_env": "TOKEN: [s3cr3t-value\nOTHER=abc123"})
    assert "abc123" in found and any("s3cr3t-value" in value for value in found)


def test_error_echo_of_a_value_is_one_short_line(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        _load(tmp_path, flow="x\n::error::forged" + "y" * 100)
    line = caught.value.one_line()
    assert "\n" not in line and "\\n::error::forged" in line and len(line) < 200
