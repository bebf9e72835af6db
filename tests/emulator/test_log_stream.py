"""Contract §6: the SSE log stream's exact frames, live and replay modes, offset, caps."""

from __future__ import annotations

import time

from emulator.emulator_client import Api, log_text, parse_sse
from emulator.source_projects import WRITE_WORKER, project_zip, run_build, start_build, wait_job
from emulator_harness import Emulator, EmulatorFactory

SPLIT_OUTPUT = (
    "printf 'abc'; sleep 0.4; printf 'def\\r\\nghi\\n'; sleep 0.4; "
    "printf '\\303'; sleep 0.4; printf '\\251 back\\\\slash\\n'; " + WRITE_WORKER
)


def _read(api: Api, dep_id: str, offset: int | str | None = None) -> str:
    with api.logs(dep_id, offset=offset) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"] == "text/event-stream"
        assert resp.headers["cache-control"] == "no-cache"
        return resp.content.decode()


def test_frames_forward_raw_chunks_with_cr_dropped_and_lf_escaped(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    build = run_build(api, project_zip(), build_command=SPLIT_OUTPUT)
    raw = build.raw_log
    assert "data: abc\n\n" in raw  # not line-aligned: the partial line is its own frame
    assert "data: def\\nghi\\n\n\n" in raw  # CR deleted, LF -> backslash n
    assert "data: \n\n" in raw  # half a UTF-8 character: an empty frame
    assert "data: é back\\slash\\n\n\n" in raw  # completed by the next chunk; backslashes unescaped
    assert raw.endswith("event: done\ndata: end\n\n")
    assert not any(line.startswith(":") for line in raw.split("\n"))  # no heartbeats or comments
    assert "abcdef\nghi\né back\\slash\n" in build.text


def test_live_subscriber_gets_the_whole_buffer_then_done(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    build = run_build(api, project_zip(), build_command="mkdir -p out && echo page > out/index.html")
    late = parse_sse(_read(api, build.deployment_id))  # finished, still inside the 60 s window
    assert log_text(late) == build.text
    assert "[driver] deploy failed: Zip is missing _worker.js" in log_text(late)
    assert late[-1] == ("done", "end")


def test_replay_after_the_handle_expires_reads_the_stored_log_with_offsets(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory("--live-log-retention", "0.3")
    api = Api(emu)
    build = run_build(api, project_zip(), build_command="mkdir -p out && echo page > out/index.html")
    time.sleep(0.8)
    assert emu.admin_deployment(build.deployment_id)["build_log_live"] is False
    replay = parse_sse(_read(api, build.deployment_id))
    text = log_text(replay)
    assert replay[-1] == ("done", "end")
    assert "[driver]" not in text  # driver lines are never stored
    assert text == build.text.split("[driver]")[0]
    raw_bytes = text.encode()  # the build printed no CRs, so this is the stored object
    offset = raw_bytes.index(b"[runner] running build")
    tail = log_text(parse_sse(_read(api, build.deployment_id, offset=offset)))
    assert tail.encode() == raw_bytes[offset:]
    assert log_text(parse_sse(_read(api, build.deployment_id, offset="abc"))) == text  # NaN: full replay
    assert log_text(parse_sse(_read(api, build.deployment_id, offset=-5))) == text
    past_end = parse_sse(_read(api, build.deployment_id, offset=len(raw_bytes)))
    assert past_end == [("error", "no logs available")]


def test_offset_is_ignored_in_live_mode(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    build = run_build(api, project_zip())
    again = log_text(parse_sse(_read(api, build.deployment_id, offset=10)))
    assert again == build.text


def test_no_log_before_the_build_starts_is_an_error_event(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    created = api.create_source().json()
    events = parse_sse(_read(api, created["deployment_id"]))
    assert events == [("error", "no logs available")]


def test_stored_log_is_capped_at_5_mib_but_the_live_stream_is_not(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory("--live-log-retention", "0.3")
    api = Api(emu)
    build = run_build(api, project_zip(),
                      build_command="head -c 6000000 /dev/zero | tr '\\0' 'a'; echo; " + WRITE_WORKER)
    assert build.text.count("a") >= 6_000_000
    assert build.text.endswith("[runner] success\n")
    wait_job(emu, build.deployment_id)
    time.sleep(0.8)
    stored = log_text(parse_sse(_read(api, build.deployment_id)))
    assert stored.endswith("\n[log truncated at 5 MB]\n")
    assert len(stored.encode()) == 5 * 1024 * 1024 + len("\n[log truncated at 5 MB]\n")
    assert "[runner] success" not in stored


def test_a_stream_opened_during_the_build_follows_it_live(fresh_emulator: Emulator) -> None:
    api = Api(fresh_emulator)
    command = "echo one$((0+1)); sleep 1; echo two$((1+1)); " + WRITE_WORKER
    build = start_build(api, project_zip(), build_command=command)
    arrivals: list[tuple[float, str]] = []
    with api.logs(build.deployment_id) as resp:
        for chunk in resp.iter_content(chunk_size=None):
            arrivals.append((time.monotonic(), chunk.decode()))
    joined = "".join(c for _, c in arrivals)
    assert joined.endswith("event: done\ndata: end\n\n")
    first_at = next(t for t, c in arrivals if "one1" in c)  # the command line itself says one$((0+1))
    second_at = next(t for t, c in arrivals if "two2" in c)
    assert second_at - first_at >= 0.8  # delivered as produced, not at the end
