"""The results file as Markdown: the tables pasted into docs/PERFORMANCE.md."""

from __future__ import annotations

from typing import Any


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def markdown(data: dict[str, Any]) -> str:
    m = data["machine"]
    lines = [
        f"Run `{data['command']}` ({data['profile']} profile) on {data['started_at']}, "
        f"{data['duration_s']:.0f} s in all; commit {m['git_commit']}.",
        "",
        f"Machine: {m['nproc']} cores ({m['cpu_model']}), {m['memory_gib']} GiB memory, {m['os']}, "
        f"kernel {m['kernel']}, Python {m['python']}; {m['zip']}; {m['curl'].split(' (')[0]}; "
        f"{m['sha256sum']}. Load average {data['load_average_start']} at the start, "
        f"{data['load_average_end']} at the end.",
        "",
        *(["**Smoke run**: tiny inputs, one repetition. These numbers only show that every benchmark ran; "
            "they are not measurements.", ""] if data["profile"] == "smoke" else []),
        "| Target | Measured | Target | Met |",
        "|---|---|---|---|",
    ]
    for t in data["targets"]:
        unit = "" if t["unit"] == "x" else f" {t['unit']}"
        value = f"{t['value']:.2f}{unit}" if t["unit"] in ("x", "s", "MiB", "MB") else f"{t['value']:.0f}{unit}"
        lines.append(f"| {t['label']} | {value} | {t['op']} {t['limit']}{unit} | {'yes' if t['met'] else '**no**'} |")
    lines.append("")
    b = data["benchmarks"]
    if "packaging" in b:
        lines += ["**Packaging** (median wall time; peak RSS is the largest of all runs)", "",
                  "| Tree | Files | Raw MiB | Ours s | zip -r -6 s | Ratio | Ours CPU s | zip CPU s | Ours RSS MiB | "
                  "zip RSS MiB | Ours zip MiB | zip's zip MiB | Deterministic | CLI `package` s |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for name, r in b["packaging"]["results"].items():
            lines.append(
                f"| {name} | {r['ours_zip']['files']} | {r['ours_zip']['raw_bytes'] / 2**20:.1f} | "
                f"{r['ours']['wall_median_s']:.2f} | {r['zip']['wall_median_s']:.2f} | {r['time_ratio']:.2f} | "
                f"{r['ours']['cpu_median_s']:.2f} | {r['zip']['cpu_median_s']:.2f} | {r['ours']['rss_max_mb']:.0f} | "
                f"{r['zip']['rss_max_mb']:.0f} | {r['ours_zip']['zip_bytes'] / 2**20:.1f} | "
                f"{r['zip_zip']['zip_bytes'] / 2**20:.1f} | {'yes' if r['deterministic'] else 'NO'} | "
                f"{r['package_cli']['wall_median_s']:.2f} |")
        lines.append("")
    if "hash" in b:
        r = b["hash"]["results"]
        lines += ["**Lockfile hash**", "",
                  "| File MiB | Ours s | sha256sum s | Ours MiB/s | sha256sum MiB/s | Ratio | Ours RSS MiB |",
                  "|---|---|---|---|---|---|---|",
                  f"| {r['file_mib']:.0f} | {r['ours']['wall_median_s']:.3f} | {r['sha256sum']['wall_median_s']:.3f} | "
                  f"{r['ours_mib_s']:.0f} | {r['sha256sum_mib_s']:.0f} | {r['throughput_ratio']:.2f} | "
                  f"{r['ours']['rss_max_mb']:.0f} |", ""]
    if "upload" in b:
        r = b["upload"]["results"]
        lines += ["**Upload** (transfer time as each tool reports it: `put_zip`'s return value, curl's "
                  "`%{time_total}`; process wall time adds interpreter start-up)", "",
                  "| Payload MiB | Ours MiB/s | curl MiB/s | Ratio | Ours process s | curl process s | "
                  "Ours RSS (small → large) MiB |",
                  "|---|---|---|---|---|---|---|",
                  f"| {r['payload_mib']:.0f} | {r['ours_mib_s']:.0f} | {r['curl_mib_s']:.0f} | "
                  f"{r['throughput_ratio']:.2f} | {r['ours_process']['wall_median_s']:.2f} | "
                  f"{r['curl_process']['wall_median_s']:.2f} | {r['ours_rss_small_mb']:.0f} "
                  f"({r['small_payload_mib']:g} MiB) → {r['ours_rss_large_mb']:.0f} |", ""]
    if "ready" in b:
        r = b["ready"]["results"]
        lines += ["**READY detection** (emulator's READY timestamp → Action process reaped)", "",
                  "| Runs | Median s | Min s | Max s | Pipeline released after (s) |", "|---|---|---|---|---|",
                  f"| {len(r['latency_s'])} | {r['median_s']:.2f} | {r['min_s']:.2f} | {r['max_s']:.2f} | "
                  f"{r['release_delay_s'][0]}–{r['release_delay_s'][1]} |", ""]
    if "e2e" in b:
        r = b["e2e"]["results"]
        lines += [f"**End to end, Flow A** (recipe polls every {r['recipe_poll_seconds']:g} s)", "",
                  "| Output | Action s | Recipe s | Ratio | Action RSS MiB |", "|---|---|---|---|---|"]
        for name in ("real", "large"):
            if name in r:
                x = r[name]
                lines.append(f"| {name} | {x['action']['wall_median_s']:.2f} | {x['recipe']['wall_median_s']:.2f} | "
                             f"{x['time_ratio']:.2f} | {x['action']['rss_max_mb']:.0f} |")
        lines.append("")
    if "startup" in b:
        r = b["startup"]["results"]
        lines += ["**Start-up** (process spawned → first request at a loopback server)", "",
                  "| Flow | Median ms | Max ms |", "|---|---|---|"]
        for name in ("list", "prebuilt"):
            if name in r:
                lines.append(f"| {name} | {r[name]['median_s'] * 1000:.0f} | {r[name]['max_s'] * 1000:.0f} |")
        image = r.get("image", {})
        lines.append("")
        if image.get("measured"):
            lines += [f"Container image: {image['image_mb']:.1f} MB, of which {image['added_mb']:.1f} MB on top of "
                      f"the base ({image['base']}: {image['base_description']}, {image['base_mb']:.1f} MB); "
                      f"build {image['build_s']:.0f} s.", ""]
        else:
            lines += [f"Container image: not measured in this run ({image.get('why', 'skipped')}).", ""]
        if r.get("import_profile"):
            heavy = ", ".join(f"{x['module']} {x['cumulative_ms']:.0f} ms" for x in r["import_profile"][:5])
            lines += [f"Heaviest imports (cumulative, `python -X importtime`): {heavy}.", ""]
    if "scale" in b:
        r = b["scale"]["results"]
        c = r["concurrent"]
        lines += [f"**Scale**: {c['ready']}/{c['deploys']} concurrent deploys READY in {c['total_wall_s']:.1f} s "
                  f"(each {c['deploy_wall_median_s']:.1f} s median, {c['deploy_wall_max_s']:.1f} s max; peak RSS "
                  f"{c['rss_max_mb']:.0f} MiB per process, emulator {_fmt(c['emulator_peak_rss_mb'], 0)} MiB).", "",
                  "| Files | Raw MiB | Package s | Package RSS MiB | zip -r s | Deploy s | Deploy RSS MiB | Status |",
                  "|---|---|---|---|---|---|---|---|"]
        for row in r["growth"]:
            lines.append(f"| {row['files']:,} | {row['raw_mib']:.1f} | {row['package']['wall_median_s']:.2f} | "
                         f"{row['package']['rss_max_mb']:.0f} | {row['zip']['wall_median_s']:.2f} | "
                         f"{row['deploy_wall_s']:.1f} | {row['deploy_rss_mb']:.0f} | {row['deploy_status']} |")
        lines.append("")
    if data.get("errors"):
        lines += ["**Benchmarks that could not run**", ""]
        lines += [f"- {name}: {error.splitlines()[0] if error else ''}" for name, error in data["errors"].items()]
        lines.append("")
    return "\n".join(lines)
