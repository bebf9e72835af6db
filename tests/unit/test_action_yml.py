"""action.yml is what GitHub loads first: it must parse, and match what the code reads."""

from pathlib import Path

import yaml

from butterbase_edge_deploy.action import INPUT_NAMES
from butterbase_edge_deploy.report import RunReport

ACTION = Path(__file__).resolve().parents[2] / "action.yml"


def _action() -> dict:
    return yaml.safe_load(ACTION.read_text(encoding="utf-8"))


def test_action_yml_parses_and_runs_the_dockerfile() -> None:
    action = _action()
    assert action["runs"] == {"using": "docker", "image": "Dockerfile"}


def test_inputs_match_what_the_action_reads() -> None:
    inputs = _action()["inputs"]
    assert set(inputs) == set(INPUT_NAMES)
    for name, spec in inputs.items():
        assert spec["description"].strip(), name
        assert spec.get("required") is True or "default" in spec, name
    assert {n for n, s in inputs.items() if s.get("required")} == {"api_key", "app_id"}


def test_outputs_match_what_the_action_writes() -> None:
    assert set(_action()["outputs"]) == set(RunReport().outputs())


def test_no_expressions_in_metadata() -> None:
    # GitHub evaluates ${{ }} in action metadata and refuses to load the action for unknown contexts.
    assert "${{" not in ACTION.read_text(encoding="utf-8")
