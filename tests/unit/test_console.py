import io

from workflow_commands import parse

from butterbase_edge_deploy.console import Console

HOSTILE = [
    "::error::forged by the server",
    "  ::set-output name=url::https://evil.test",
    "##[error]legacy forged",
    "progress ##[warning]inside a line",
    "::add-mask::x",
    "::stop-commands::abc",
    "::endgroup::",
]


def _github_console() -> tuple[Console, io.StringIO]:
    stream = io.StringIO()
    return Console(stream, github=True), stream


def test_relayed_text_never_becomes_a_command() -> None:
    console, stream = _github_console()
    for line in HOSTILE:
        console.relay(line)
        console.info(f"server said: {line}")
    assert parse(stream.getvalue()) == []
    for line in HOSTILE:
        assert line in stream.getvalue()  # shown to the user, just not executed


def test_own_annotations_escape_server_text() -> None:
    console, stream = _github_console()
    console.error("failed: line one\n::error::line two %0A")
    commands = parse(stream.getvalue())
    assert [c.name for c in commands] == ["error"]
    assert commands[0].data == "failed: line one%0A::error::line two %250A"


def test_secrets_are_redacted_and_registered() -> None:
    console, stream = _github_console()
    console.add_secrets(["bb_sk_" + "c" * 40, "multi\nline-secret", "ab"])
    console.info("key bb_sk_" + "c" * 40 + " and line-secret and ab")
    console.warning("multi appears")
    text = stream.getvalue()
    masks = [c.data for c in parse(text) if c.name == "add-mask"]
    assert "bb_sk_" + "c" * 40 in masks and "line-secret" in masks and "multi" in masks
    logged = [line for line in text.splitlines() if not line.startswith("::add-mask::")]
    assert not any("c" * 40 in line or "line-secret" in line for line in logged)
    assert "and ab" in text  # too short to mask without blanking ordinary words


def test_plain_console_prints_without_commands() -> None:
    stream = io.StringIO()
    console = Console(stream, github=False)
    console.add_secrets(["topsecret"])
    console.warning("careful topsecret")
    console.error("broken")
    assert stream.getvalue() == "warning: careful ***\nerror: broken\n"
