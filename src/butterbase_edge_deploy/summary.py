"""The job summary (Markdown) for the run page."""

from __future__ import annotations

from butterbase_edge_deploy.deploy import fix_for
from butterbase_edge_deploy.report import RunReport


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown(report: RunReport) -> str:
    icon = {"READY": "✅", "DRY_RUN": "🧪"}.get(report.status, "❌")
    lines = [f"### {icon} Butterbase Edge SSR: {report.status or 'not started'}", ""]
    if report.deployments is not None:
        lines += ["| Created | Status | Deployment | Files | URL |", "|---|---|---|---|---|"]
        for row in report.deployments:
            lines.append(f"| {_cell(row.get('createdAt') or '')} | {_cell(row['status'])} | `{_cell(row['id'])}` "
                         f"| {_cell(row.get('fileCount') or '')} | {_cell(row.get('url') or '')} |")
        return "\n".join(lines) + "\n"
    rows = [
        ("URL", report.url), ("Deployment", f"`{report.deployment_id}`" if report.deployment_id else ""),
        ("App", report.app_id), ("Flow", report.flow), ("Framework", report.framework),
        ("Build", report.build_id),
        ("Lockfile", f"{report.lockfile} `{report.lockfile_hash[:16]}…`" if report.lockfile_hash else ""),
        ("Cache", {True: "node_modules restored", False: "cold install", None: ""}[report.cache_restored]),
        ("Files", report.file_count if report.file_count is not None else ""),
        ("Zip", f"{report.zip_bytes:,} bytes" if report.zip_bytes is not None else ""),
        ("Time", ", ".join(f"{name} {seconds:.1f} s" for name, seconds in report.stages.items())),
    ]
    lines += ["| | |", "|---|---|"]
    lines += [f"| {name} | {_cell(value)} |" for name, value in rows if value not in ("", None)]
    if report.error:
        lines += ["", f"**Error:** {_cell(report.error)}", "", f"**Fix:** {_cell(report.fix or fix_for(report.error))}"]
    if report.log_tail and report.status != "READY":
        lines += ["", "<details><summary>Last lines of the build log</summary>", "", "```text",
                  *(line.replace("```", "ˋˋˋ") for line in report.log_tail), "```", "</details>"]
    return "\n".join(lines) + "\n"
