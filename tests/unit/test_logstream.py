from butterbase_edge_deploy.logstream import LineAssembler, unescape


def test_slices_join_into_whole_lines() -> None:
    lines: list[str] = []
    assembler = LineAssembler(lines.append)
    for payload in ["[runner] down", "loading\\n[run", "ner] inst", "", "all\\n\\nbuild ok", "\\nno newline at end"]:
        assembler.feed(unescape(payload))
    assert lines == ["[runner] downloading", "[runner] install", "", "build ok"]
    assembler.flush()
    assert lines[-1] == "no newline at end"


def test_unescape_only_touches_backslash_n() -> None:
    assert unescape("a\\nb\\tc") == "a\nb\\tc"
