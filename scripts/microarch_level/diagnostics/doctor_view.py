"""Render a `doctor` report: aligned tables for a terminal, plain lines for pipes, or JSON.

Plain mode prints one fact per line with a stable prefix (`cpu`, `style`,
`tool`, `prefix`, `advice`) so it greps and diffs well; table mode is for
reading.  Both come from the same report dict that --json prints.
"""

from __future__ import annotations

import json

from ..catalog.families import OVERRIDE
from ..terminal import escaped
from . import probe

NONE = "-"


def _span(levels: list[int]) -> str:
    if not levels:
        return "none"
    if levels == list(range(levels[0], levels[-1] + 1)) and len(levels) > 1:
        return f"{levels[0]}-{levels[-1]}"
    return " ".join(str(x) for x in levels)


def _proc(p: dict) -> tuple[str, str]:
    if p["usable"] and p.get("generation"):
        return f"{p['archspec_host']} (generation {p['generation']} in its cpu line)", str(p["level"])
    if p["usable"]:
        return f"{p['archspec_host']} ({p['flags']} flags)", str(p["level"])
    return p["note"] or "unavailable", NONE


def _glibc(g: dict) -> tuple[str, str]:
    if g["available"]:
        return (", ".join(g["supported"]) or "no hwcaps above the baseline") + " supported", str(g["level"])
    return g["note"] or "unavailable", NONE


def _sysctl(s: dict) -> tuple[str, str]:
    if s["level"] is not None:
        return f"{s['flags']} feature words", str(s["level"])
    return s["note"] or "unavailable", NONE


def _override(o: dict) -> tuple[str, str]:
    if not o["set"]:
        return "not set", NONE
    if o["name"] is None:
        return f"'{o['value']}': {o['problem']}", NONE
    spelled = "" if o["name"] == o["value"] else f" (spelled '{o['value']}')"
    return f"{o['name']}{spelled}", str(o["level"])


# What doctor shows of each source's section (probe.CpuSource.section): what it sees, and its level.
VIEWS = {"proc_cpuinfo": _proc, "sysctl": _sysctl, "glibc": _glibc, "override": _override}


def _sources(cpu: dict) -> list[tuple[probe.CpuSource, str, str]]:
    """(source, what it sees, its level) of each source the report holds, in the order doctor trusts them."""
    shown = {}
    for source in probe.SOURCES:
        if cpu.get(source.section) is not None and source.section not in shown:
            shown[source.section] = (source, *VIEWS[source.section](cpu[source.section]))
    return list(shown.values())


def _cpu_level(cpu: dict) -> str:
    if cpu["level"] is None:
        return "unknown: no source could tell"
    return f"{cpu['level']} (from {cpu['level_source']})"


def _style_cells(row: dict) -> list[str]:
    if row["error"]:
        return [row["label"], "refuses", NONE, row["error"]]
    reported = row["reported"] or "none"
    via = {OVERRIDE: f" via {OVERRIDE}", "CPUID": " (CPUID)"}.get(row["source"], "")
    return [row["label"], reported + via, str(row["installs"] or NONE), _span(row["installable"])]


def _tool_cells(row: dict) -> list[str]:
    if not row["found"]:
        return [row["tool"], NONE, row.get("error") or "not found on PATH", NONE, ""]
    if row.get("error") and "version" not in row:
        return [row["tool"], NONE, row["error"], NONE, ""]
    if row.get("error"):
        return [row["tool"], row.get("version", NONE), row["error"], NONE, ""]
    note = "; ".join(x for x in (row.get("advice"), row.get("note")) if x)
    return [row["tool"], row["version"], row["reported"] or "none", str(row["installs"] or NONE), note]


def _dependent(d: dict) -> str:
    return f"{d['name']} {d['version']} {d['build']} ({d['requirement']})"


def _prefix_line(env: dict) -> str:
    if env["status"] == "unreadable":
        records = "; ".join(f"{r['file']}: {r['problem']}" for r in env["gate_unreadable"])
        return (f"{env['path']}: the gate's record cannot be read ({records}): which CPU level this environment "
                f"needs is UNKNOWN")
    if env["status"] == "other-family":
        gates = ", ".join(f"{g['name']} {g['level']}" for g in env["other_gates"])
        return (f"{env['path']}: {gates} installed: an environment for another CPU family, which doctor does not "
                f"judge (it reads {env['family']} CPUs); on that machine the gate's activation guard checks the CPU")
    if env["status"] == "invalid":
        records = "; ".join(f"{r['file']}: {r['problem']}" for r in env["invalid"])
        return (f"{env['path']}: the gate's record is invalid ({records}): which CPU level this environment needs "
                f"is UNKNOWN")
    if env["gate"] is None and env["dependents"]:
        return (f"{env['path']}: no {env['gate_name']} record, but packages here require it: the environment is "
                f"incomplete and their CPU level is unknown")
    verdict = {"ok": "fine on this CPU", "too-high": "TOO HIGH for this CPU", "unknown": "this CPU's level is unknown"}
    flags = env["flags"]
    built = (f"; {env['flags_name']} {flags['level']}: its compilers emit level-{flags['level']} code "
             f"({flags['compiler_flags']}): {verdict[flags['status']]}" if flags else "")
    if env["gate"] is None:
        needs = "no installed package needs a particular CPU level" if flags else \
            "nothing here needs a particular CPU level"
        return f"{env['path']}: no {env['gate_name']} installed: {needs}{built}"
    gate = f"gate level {env['gate']['level']} ({env['gate']['build']})"
    return f"{env['path']}: {gate}, CPU level {env['cpu_level'] or NONE}: {verdict[env['status']]}{built}"


def plain(report: dict) -> str:
    cpu = report["cpu"]
    lines = [f"archspec {report['archspec_version']}"]
    lines += [f"cpu {source.name}: {sees}, level {level}" for source, sees, level in _sources(cpu)]
    lines.append(f"cpu level: {_cpu_level(cpu)}")
    lines += [f"cpu note: {n}" for n in cpu["notes"]]
    for row in report["styles"]:
        if row["error"]:
            lines.append(f"style {row['label']}: refuses to run with {OVERRIDE}: {row['error']}")
            continue
        label, reported, installs, span = _style_cells(row)
        ignores = f"; ignores {OVERRIDE}" if row["override"] == "ignored" else ""
        lines.append(f"style {label}: __archspec {reported}; installs gate level {installs} (installable: {span})"
                     + ignores + (f"; {row['note']}" if row["note"] else ""))
    if report["tools_error"]:
        lines.append(f"tool: cannot look for package managers: {report['tools_error']}")
    for row in report["tools"]:
        tool, version, reported, installs, note = _tool_cells(row)
        if not row["found"] or row.get("error"):
            lines.append(f"tool {tool}: {reported}")
            continue
        lines.append(f"tool {tool} {version}: __archspec {reported}; installs gate level {installs}"
                     + (f"; {note}" if note else ""))
    env = report.get("prefix")
    if env:
        lines.append(f"prefix {_prefix_line(env)}")
        lines.append(f"prefix verdict: {env['verdict']}")
        lines += [f"prefix needs the gate: {_dependent(d)}" for d in env["dependents"]]
    lines += [f"advice: {a}" for a in report["advice"]]
    return "\n".join(lines) + "\n"


def _table(headers: list[str], rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    fmt = lambda r: indent + "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return [fmt(headers), indent + "  ".join("-" * w for w in widths), *(fmt(r) for r in rows)]


def table(report: dict) -> str:
    cpu = report["cpu"]
    out = [f"microarch-level doctor (archspec {report['archspec_version']})", "", "This CPU"]
    out += _table(["source", "sees", "level"], [[source.label, sees, level] for source, sees, level in _sources(cpu)])
    out.append(f"  => level {_cpu_level(cpu)}")
    out += [f"  note: {n}" for n in cpu["notes"]]
    out += ["", "What each package manager would report here, and the gate level it installs"]
    out += _table(["tools", "__archspec", "installs", "installable"],
                  [_style_cells(r) for r in report["styles"]])
    out += [f"  note ({r['style']}): {r['note']}" for r in report["styles"] if r["note"]]
    ignoring = [r["style"] for r in report["styles"] if r["override"] == "ignored"]
    if ignoring:
        out.append(f"  ignore {OVERRIDE}: {', '.join(ignoring)}")
    out += ["", "Package managers on PATH"]
    if report["tools_error"]:
        out.append(f"  cannot look for them: {report['tools_error']}")
    else:
        out += _table(["tool", "version", "__archspec", "installs", "note"],
                      [_tool_cells(r) for r in report["tools"]])
    env = report.get("prefix")
    if env:
        out += ["", "Environment", f"  {_prefix_line(env)}", f"  => {env['verdict']}"]
        if env["dependents"]:
            out += _table(["package", "version", "build", "requires"],
                          [[d["name"], d["version"], d["build"], d["requirement"]] for d in env["dependents"]])
    if report["advice"]:
        out += ["", "Advice", *(f"  - {a}" for a in report["advice"])]
    return "\n".join(out) + "\n"


def render(report: dict, fmt: str) -> str:
    """The report as `fmt`; text formats show control characters from the environment as escapes."""
    if fmt == "json":
        return json.dumps(report, indent=2) + "\n"  # json escapes control characters itself
    if fmt == "table":
        return table(escaped(report))
    if fmt == "plain":
        return plain(escaped(report))
    raise ValueError(f"unknown format '{fmt}'")
