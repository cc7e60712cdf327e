"""The Markdown tables and the PNG chart made from ``results.json``.

Every figure that matters is a ratio between numbers measured side by side in
the same run: the machine is shared and noisy, so absolute times only say
what that run saw.
"""

from __future__ import annotations

import os
from typing import Any

Results = dict[str, Any]
#: RSS growth up to this is allocator noise, not a leak.
NOISE_KIB = 128
#: Row order of the tables (results.json may hold its keys in any order).
ORDER = ["python_only", "raw", "werkzeug_floor", "werkzeug_map", "microweb", "falcon", "bottle", "flask", "pyramid"]


def _ordered(table: dict[str, Any]) -> list[tuple[str, Any]]:
    return sorted(table.items(), key=lambda item: ORDER.index(item[0]) if item[0] in ORDER else len(ORDER))


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def _fmt(value: float | None, unit: str = "", digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}{unit}"


def _mark(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "**missed**")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def requests_section(part: Results) -> list[str]:
    """Per-request table: microseconds, and microweb against Falcon and Flask."""
    names = part["frameworks"]
    us = part["us"]
    rows = []
    for s in part["scenarios"]:
        name = s["name"]
        mw, falcon, flask = (us.get(f, {}).get(name) for f in ("microweb", "falcon", "flask"))
        rows.append(
            [f"`{name}`"]
            + [_fmt(us[f].get(name)) for f in names]
            + [_fmt(_ratio(mw, falcon), "x", 2), _fmt(_ratio(flask, mw), "x", 1)]
        )
    lines = ["## 1. Per request (µs per request, in process; lower is better)", ""]
    lines += _table(["scenario", *names, "microweb / falcon", "flask / microweb"], rows)
    lines += ["", "How replies were compared before timing:", ""]
    lines += [f"- `{s['name']}` ({s['description']}): {_compare_note(s['compare'])}" for s in part["scenarios"]]
    problems = [f"- {f} `{s}`: {why}" for f, bad in part["failures"].items() for s, why in bad.items()]
    if problems:
        lines += ["", "Not timed (wrong answer or no app):", "", *problems]
    if part["missing"]:
        lines += ["", "Missing frameworks: " + ", ".join(f"{k} ({v})" for k, v in part["missing"].items())]
    return lines


def _overhead_share(counts: dict[str, dict[str, int]], scenario: str, name: str = "microweb") -> float | None:
    """``name``'s instructions above raw WSGI, as a fraction of Flask's above raw."""
    raw, own, flask = (counts.get(f, {}).get(scenario) for f in ("raw", name, "flask"))
    if raw is None or own is None or flask is None or flask <= raw:
        return None
    return (own - raw) / (flask - raw)


def instructions_section(part: Results) -> list[str]:
    """Instructions per request under callgrind, and microweb against Falcon, raw WSGI and Flask."""
    icount = part.get("instructions")
    if not icount:
        return []
    counts = icount["counts"]
    names = [n for n in part["frameworks"] if n in counts]
    rows = []
    for s in part["scenarios"]:
        name = s["name"]
        mw, falcon, raw, flask = (counts.get(f, {}).get(name) for f in ("microweb", "falcon", "raw", "flask"))
        rows.append(
            [f"`{name}`"]
            + [_fmt(counts[f].get(name, 0) / 1000 if name in counts[f] else None, "", 1) for f in names]
            + [
                _fmt(_ratio(mw, falcon), "x", 2),
                _fmt(_ratio(mw, raw), "x", 2),
                _fmt(_ratio(flask, mw), "x", 1),
                _fmt(_overhead_share(counts, name), "", 3),
            ]
        )
    lines = [
        f"## 1b. Instructions per request (thousands, callgrind: {icount['requests']} requests per scenario after "
        f"{icount['warmup']} warm-up ones, start-up excluded; lower is better)",
        "",
        "Repeatable where wall-clock time is not: the same run gives the same counts to within a fraction of a"
        " per cent. `overhead ÷ Flask's`: microweb's instructions above raw WSGI over Flask's above raw WSGI.",
        "",
    ]
    header = ["scenario", *names, "microweb / falcon", "microweb / raw", "flask / microweb", "overhead ÷ Flask's"]
    lines += _table(header, rows)
    from .scenarios import BY_HAND, URL_BUILDING

    mw = counts.get("microweb", {})
    by_hand = _ratio(mw.get(URL_BUILDING), mw.get(BY_HAND))
    flask_urls = _ratio(counts.get("flask", {}).get(URL_BUILDING), mw.get(URL_BUILDING))
    lines += [
        "",
        f"URL building: microweb's `{URL_BUILDING}` costs {_fmt(by_hand, 'x', 2)} its `{BY_HAND}` (the same URLs as"
        f" f-strings, as Falcon users write them); Flask's `url_for` costs {_fmt(flask_urls, 'x', 2)} microweb's.",
    ]
    problems = [f"- {f} `{s}`: {why}" for f, bad in icount.get("failures", {}).items() for s, why in bad.items()]
    if problems:
        lines += ["", "Not counted (wrong answer):", "", *problems]
    lines += ["", f"Tool: {icount['tool']}; {icount.get('seconds', '–')} s for the whole count."]
    return lines


def issue16_targets(results: Results) -> list[list[str]]:
    """Issue 16's targets: instruction ratios of the new kinds, and the 10,000-route start-up."""
    from .scenarios import BY_HAND, ISSUE_16, URL_BUILDING

    rows = []
    counts = (results.get("requests") or {}).get("instructions", {}).get("counts", {})
    mw, falcon, flask = (counts.get(f, {}) for f in ("microweb", "falcon", "flask"))
    ratios = {s: mw[s] / falcon[s] for s in ISSUE_16 if s != URL_BUILDING and s in mw and s in falcon}
    if ratios:
        worst = max(ratios, key=lambda s: ratios[s])
        misses = [s for s, r in ratios.items() if r > 1]
        rows.append(
            [
                "each workload kind at or under Falcon (instructions)",
                f"worst `{worst}` {ratios[worst]:.2f}x; misses: " + (", ".join(f"`{s}`" for s in misses) or "none"),
                _mark(not misses),
            ]
        )
    by_hand = _ratio(mw.get(URL_BUILDING), mw.get(BY_HAND))
    if by_hand:
        rows.append(["URL building ≤ 3x formatting by hand", f"{by_hand:.2f}x", _mark(by_hand <= 3)])
    cheaper = _ratio(flask.get(URL_BUILDING), mw.get(URL_BUILDING))
    if cheaper:
        rows.append(["URL building ≥ 5x cheaper than Flask's url_for", f"{cheaper:.2f}x", _mark(cheaper >= 5)])
    shares = {s: v for s in mw if (v := _overhead_share(counts, s)) is not None}
    if shares:
        worst = max(shares, key=lambda s: shares[s])
        misses = [s for s, v in shares.items() if v > 0.2]
        rows.append(
            [
                "overhead above raw WSGI ≤ 1/5 of Flask's, every scenario",
                f"worst `{worst}` {shares[worst]:.2f}; {len(misses)} of {len(shares)} scenarios miss",
                _mark(not misses),
            ]
        )
    return rows + _startup_targets(results.get("routing")) + _e2e_targets(results.get("e2e"))


def _e2e_targets(part: Results | None) -> list[list[str]]:
    """Under gunicorn, the JSON view: at least 0.95x raw WSGI's requests per second, and at least Falcon's."""
    rps = (part or {}).get("rps", {})
    mw, raw, falcon = (rps.get(f, {}).get("param_json") for f in ("microweb", "raw", "falcon"))
    if not mw or not raw:
        return []
    to_raw = mw / raw
    to_falcon = _ratio(mw, falcon)
    measured = f"{to_raw:.2f}x raw" + (f", {to_falcon:.2f}x Falcon" if to_falcon else "")
    met = to_raw >= 0.95 and (to_falcon is None or to_falcon >= 1)
    return [["end to end (gunicorn, `param_json`): ≥ 0.95x raw WSGI and ≥ Falcon", measured, _mark(met)]]


def _startup_targets(part: Results | None) -> list[list[str]]:
    from .routing import FIRST_REQUEST_LIMIT_S, REGISTRATION_LIMIT

    first = (part or {}).get("first_request_seconds", {})
    built = (part or {}).get("build_seconds", {})
    largest = str(max((int(n) for n in first.get("microweb", {})), default=0))
    if largest not in first.get("microweb", {}):
        return []
    mw_first = first["microweb"][largest]
    rows = [
        [
            f"{int(largest):,} routes: first request under {FIRST_REQUEST_LIMIT_S:g} s",
            f"{mw_first:.3f} s",
            _mark(mw_first < FIRST_REQUEST_LIMIT_S if int(largest) >= 10_000 else None),
        ]
    ]
    ratio = _ratio(built.get("microweb", {}).get(largest), built.get("werkzeug_map", {}).get(largest))
    if ratio:
        rows.append(
            [
                f"{int(largest):,} routes: registration ≤ {REGISTRATION_LIMIT}x Werkzeug's Map.add",
                f"{ratio:.2f}x",
                _mark(ratio <= REGISTRATION_LIMIT if int(largest) >= 10_000 else None),
            ]
        )
    return rows


def _compare_note(compare: str) -> str:
    from .scenarios import COMPARISONS

    return COMPARISONS[compare][1]


def routing_section(part: Results) -> list[str]:
    """Route-table scaling: first and last route of N, and last-of-largest over last-of-10."""
    sizes = [str(n) for n in part["sizes"]]
    lines = ["## 2. Route-table scaling (µs per request)", ""]
    rows = []
    for name in part["frameworks"]:
        for what in ("static_first", "static_last", "dynamic_first", "dynamic_last"):
            values = part["us"].get(name, {}).get(what, {})
            largest = max((int(n) for n in values), default=None)
            growth = _ratio(values.get(str(largest)), values.get(sizes[0])) if largest else None
            rows.append(
                [name, what]
                + [_fmt(values.get(n)) for n in sizes]
                + [f"{_fmt(growth, 'x', 2)} (N={largest:,})" if largest else "–"]
            )
    lines += _table(["framework", "route", *(f"N={int(n):,}" for n in sizes), "largest N / N=10"], rows)
    lines += startup_table(part)
    if part.get("missing"):
        lines += ["", "Missing: " + ", ".join(f"{k} ({v})" for k, v in part["missing"].items())]
    capped = ", ".join(f"{k} (N ≤ {v:,})" for k, v in part.get("max_size", {}).items())
    if capped:
        lines += [
            "",
            f"Capped: {capped}: their route registration grows quadratically, so 10,000 routes take minutes to build.",
        ]
    return lines


def startup_table(part: Results) -> list[str]:
    """Registration and first-request seconds per N (``werkzeug_map``: Werkzeug's Map, add and one match)."""
    first = part.get("first_request_seconds")
    if not first:
        return []  # results from before the first request was measured
    sizes = [str(n) for n in part["sizes"]]
    rows = []
    for name, values in _ordered(first):
        built = part["build_seconds"].get(name, {})
        cells = [(built.get(n), values.get(n)) for n in sizes]
        rows.append([name] + ["–" if b is None else f"{b:.3f} + {_fmt(f, digits=3)}" for b, f in cells])
    title = (
        "Registration + first request (seconds, N static and N dynamic routes). The first request asks for"
        " the last dynamic route: lazy routers build their tables then. `werkzeug_map`: Werkzeug's `Map`"
        " alone (`add`, then one `match`)."
    )
    return ["", title, "", *_table(["framework", *(f"N={int(n):,}" for n in sizes)], rows)]


def coldstart_section(part: Results) -> list[str]:
    """CGI cold start: whole-process wall time per framework, and import time of microweb."""
    floor = part["ms"].get("werkzeug_floor", {}).get("best")
    rows = [
        [name, _fmt(v["best"], " ms"), _fmt(v["median"], " ms"), _fmt(_ratio(v["best"], floor), "x", 2)]
        for name, v in _ordered(part["ms"])
    ]
    lines = [
        f"## 3. Cold start: one CGI request in a fresh process (wall time, best and median of {part['runs']} runs)",
        "",
    ]
    lines += _table(["process", "best", "median", "best / werkzeug floor"], rows)
    imp = part["importtime"]
    lines += [
        "",
        f"`python -X importtime -c 'import microweb'`: {imp['microweb_ms']:.1f} ms cumulative "
        f"(werkzeug's share {imp['werkzeug_ms']:.1f} ms). Slowest imports below microweb:",
        "",
    ]
    lines += _table(["module", "cumulative ms"], [[f"`{m}`", f"{ms:.1f}"] for m, ms in imp["top"] if m != "site"])
    floor = set(imp.get("heavy_in_floor", []))
    extra = [m for m in imp["heavy_loaded"] if m not in floor]
    lines += [
        "",
        "Modules worth deferring that `import microweb` loads beyond the floor's imports: "
        + (", ".join(f"`{m}`" for m in extra) if extra else "none")
        + "; loaded by the floor itself (werkzeug's `__init__`): "
        + ", ".join(f"`{m}`" for m in sorted(floor)),
    ]
    return lines


def memory_section(part: Results) -> list[str]:
    """RSS before and after many requests, and the peak allocated during one request."""
    lines = [f"## 5. Memory: worker RSS over {part['requests']:,} requests (all scenarios in turn)", ""]
    rows = [
        [
            name,
            _fmt(v["rss_before_kib"] / 1024, " MiB"),
            _fmt(v["rss_after_kib"] / 1024, " MiB"),
            _fmt(v["rss_after_kib"] - v["rss_before_kib"], " KiB", 0),
        ]
        for name, v in _ordered(part["workers"])
    ]
    lines += _table(["framework", "RSS after warm-up", f"RSS after {part['requests']:,}", "growth"], rows)
    scen = part["scenarios"]
    lines += ["", "Peak memory allocated during one request (tracemalloc, KiB):", ""]
    rows = [[name] + [_fmt(v["peak_kib"].get(s)) for s in scen] for name, v in _ordered(part["workers"])]
    lines += _table(["framework", *(f"`{s}`" for s in scen)], rows)
    if part.get("missing"):
        lines += ["", "Missing: " + ", ".join(f"{k} ({v})" for k, v in part["missing"].items())]
    return lines


def _e2e_table(rps: dict[str, dict[str, float]], views: list[str]) -> list[str]:
    raw = rps.get("raw", {})
    rows = [
        [name] + [f"{_fmt(v.get(view), '', 0)} ({_fmt(_ratio(v.get(view), raw.get(view)), 'x', 2)})" for view in views]
        for name, v in _ordered(rps)
    ]
    return _table(["framework", *(f"`{v}` req/s (÷ raw)" for v in views)], rows)


def e2e_section(part: Results) -> list[str]:
    """Requests per second under gunicorn (and Granian), as a ratio to the raw app under the same server."""
    lines = [
        f"## 4. End to end: `wrk` against gunicorn ({part['server']}), {part['duration']} s per view, "
        f"best of {part.get('rounds', 1)} rounds",
        "",
    ]
    lines += _e2e_table(part["rps"], part["views"])
    if part.get("missing"):
        lines += ["", "Missing: " + ", ".join(f"{k} ({v})" for k, v in part["missing"].items())]
    granian = part.get("granian")
    if granian and granian["rps"]:
        lines += ["", f"Under Granian ({granian['server']}), the same views, ÷ raw WSGI under Granian:", ""]
        lines += _e2e_table(granian["rps"], part["views"])
    if granian and granian.get("missing"):
        lines += ["", "Missing under Granian: " + ", ".join(f"{k} ({v})" for k, v in granian["missing"].items())]
    return lines


def targets(results: Results) -> list[list[str]]:
    """Each target of issue 5: what was measured and whether microweb meets it."""
    rows = []
    req = results.get("requests")
    if req:
        rows += _per_request_targets(req["us"])
    rows += _routing_target(results.get("routing"))
    rows += _coldstart_targets(results.get("coldstart"))
    e2e = results.get("e2e")
    if e2e and "microweb" in e2e["rps"]:
        ratios = {v: _ratio(e2e["rps"]["microweb"].get(v), e2e["rps"].get("raw", {}).get(v)) for v in e2e["views"]}
        worst = min((r for r in ratios.values() if r), default=None)
        rows.append(
            [
                "end to end: ≥ 0.9x raw WSGI req/s",
                ", ".join(f"`{v}` {_fmt(r, 'x', 2)}" for v, r in ratios.items()),
                _mark(None if worst is None else worst >= 0.9),
            ]
        )
    mem = results.get("memory")
    if mem and "microweb" in mem["workers"]:
        w = mem["workers"]["microweb"]
        growth = w["rss_after_kib"] - w["rss_before_kib"]
        # Allocator noise (a fresh arena, fragmentation) moves the peers' RSS by up to ~100 KiB here.
        rows.append(
            [f"memory: no growth over {mem['requests']:,} requests", f"{growth:+,} KiB RSS", _mark(growth <= NOISE_KIB)]
        )
    return rows


def _per_request_targets(us: dict[str, dict[str, float]]) -> list[list[str]]:
    mw = us.get("microweb", {})
    rows = []
    # (peer, goal, label, ratio) with every ratio "lower is better" against its goal
    for peer, goal, label in (("falcon", 1.0, "microweb / falcon ≤ 1x"), ("flask", 1 / 5, "flask / microweb ≥ 5x")):
        ratios = {s: mw[s] / t for s, t in us.get(peer, {}).items() if mw.get(s) and t}
        if not ratios:
            continue
        worst = max(ratios, key=lambda s: ratios[s])
        misses = [s for s, r in ratios.items() if r > goal]
        shown = ratios[worst] if peer == "falcon" else 1 / ratios[worst]
        rows.append(
            [
                f"per request: {label} on every scenario",
                f"worst `{worst}` {shown:.2f}x; {len(misses)} of {len(ratios)} scenarios miss",
                _mark(not misses),
            ]
        )
    return rows


def _routing_target(part: Results | None) -> list[list[str]]:
    values = (part or {}).get("us", {}).get("microweb", {}).get("dynamic_last", {})
    largest = max((int(n) for n in values), default=None)
    if not largest or "10" not in values:
        return []
    growth = values[str(largest)] / values["10"]
    return [
        [
            f"routing: last of {largest:,} within 1.5x of last of 10 (dynamic)",
            f"{growth:.2f}x",
            _mark(growth <= 1.5 if largest >= 10_000 else None),
        ]
    ]


def _coldstart_targets(part: Results | None) -> list[list[str]]:
    if not part:
        return []
    ms = {k: v["best"] for k, v in part["ms"].items()}
    rows = []
    if "microweb" in ms and "werkzeug_floor" in ms:
        r = ms["microweb"] / ms["werkzeug_floor"]
        rows.append(["cold start: CGI process ≤ 1.15x the Werkzeug floor", f"{r:.2f}x", _mark(r <= 1.15)])
    if "microweb" in ms and "flask" in ms:
        r = ms["flask"] / ms["microweb"]
        bottle = f"; Bottle's process is {ms['bottle'] / ms['microweb']:.2f}x microweb's" if "bottle" in ms else ""
        rows.append(["cold start: ≥ 1.3x faster than Flask", f"flask / microweb {r:.2f}x{bottle}", _mark(r >= 1.3)])
    return rows


def _requests_sections(part: Results) -> list[str]:
    return (
        [*requests_section(part), "", *instructions_section(part)]
        if part.get("instructions")
        else requests_section(part)
    )


SECTIONS = [
    ("requests", _requests_sections),
    ("routing", routing_section),
    ("coldstart", coldstart_section),
    ("e2e", e2e_section),
    ("memory", memory_section),
]


def markdown(results: Results) -> str:
    """The whole report as Markdown."""
    machines = [results[p]["machine"] for p, _ in SECTIONS if p in results and "machine" in results[p]]
    lines = ["# microweb benchmarks", ""]
    if machines:
        m = machines[-1]
        lines += [
            f"Run on {m['date']}: {m['implementation']} {m['python']}, {m['system']} {m['machine']}, "
            f"{m['cpus']} CPUs, a shared and noisy machine. Absolute figures are that run's; compare the "
            "ratios, which were measured side by side in the same run.",
            "",
        ]
    rows = targets(results)
    if rows:
        lines += ["## Targets (issue 5)", "", *_table(["target", "measured", "status"], rows), ""]
    rows = issue16_targets(results)
    if rows:
        lines += ["## Targets (issue 16)", "", *_table(["target", "measured", "status"], rows), ""]
    for name, section in SECTIONS:
        if name in results:
            lines += [*section(results[name]), ""]
    return "\n".join(lines)


def write(results: Results, out: str) -> str:
    """Write ``results.md`` and ``chart.png`` (if matplotlib is installed) to ``out``; return the Markdown."""
    text = markdown(results)
    with open(os.path.join(out, "results.md"), "w", encoding="utf-8") as fh:
        fh.write(text)
    try:
        from .chart import draw
    except ImportError:
        print("matplotlib is not installed: no chart (pip install matplotlib)")
    else:
        draw(results, os.path.join(out, "chart.png"))
    return text
