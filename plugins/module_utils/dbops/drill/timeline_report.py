"""The drill's report: one JSON document and one self-contained HTML page with an inline SVG timeline.

The page shows RTO and RPO first, then the timeline: every acknowledged write of each database as bars over time,
coloured by its fate after the restore (kept, discarded because it came after the point, lost), with the drill's
events (recovery point, disaster, restore) as vertical lines and the restore as a shaded band.
"""

from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path

FATE_STYLE = {
    # fate: (colour, legend label)
    "kept": ("#2e7d32", "acknowledged before the point, restored"),
    "in_flight_kept": ("#9ccc65", "in flight at the point, restored"),
    "in_flight_discarded": ("#ffcc80", "in flight at the point, not restored"),
    "discarded": ("#9e9e9e", "written after the point, not restored"),
    "lost": ("#c62828", "acknowledged before the point, LOST"),
    "overshoot": ("#6a1b9a", "written after the point, restored anyway"),
}
LANE_LABEL = {"postgres": "PostgreSQL", "mongodb": "MongoDB"}
EVENT_COLOUR = {"recovery_point": "#1565c0", "disaster": "#c62828", "restore_started": "#ef6c00",
                "restore_finished": "#ef6c00"}

WIDTH = 1000
LEFT = 110
RIGHT = 20
LANE_HEIGHT = 70
LANE_GAP = 18
LABEL_ROW = 14
CHAR_WIDTH = 6.2


def _safe_name(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", run_id)[:80] or "drill"


def _number(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def normalize(report: dict) -> dict:
    """Times may arrive as strings from templating: make them numbers, and drop events that never happened."""
    report = dict(report)
    events = []
    for event in report.get("events") or []:
        at = _number(event.get("at"))
        if at:
            events.append({**event, "at": at, "until": _number(event.get("until"))})
    report["events"] = events
    restore = {key: (_number(value) if key.endswith(("_at", "_s")) else value)
               for key, value in (report.get("restore") or {}).items()}
    report["restore"] = restore
    started, finished = restore.get("started_at"), restore.get("finished_at")
    if report.get("rto_seconds") in (None, "") and started and finished:
        report["rto_seconds"] = round(finished - started, 3)
    report["rto_seconds"] = _number(report.get("rto_seconds"))
    report["rpo_writes_lost"] = int(_number(report.get("rpo_writes_lost")) or 0)
    return report


def report_paths(report: dict, report_dir: str | os.PathLike[str]) -> tuple[Path, Path]:
    stem = f"dr_drill-{_safe_name(str(report.get('run_id', 'drill')))}"
    return Path(report_dir) / f"{stem}.json", Path(report_dir) / f"{stem}.html"


def write_report(report: dict, report_dir: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write dr_drill-<run>.json and .html (atomically) and return their paths."""
    Path(report_dir).mkdir(parents=True, exist_ok=True)
    paths = report_paths(report, report_dir)
    for path, text in zip(paths, (json.dumps(report, indent=2, sort_keys=True), render_html(report)), strict=True):
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    return paths


def _x(at: float, start: float, end: float) -> float:
    span = max(end - start, 0.001)
    return LEFT + (at - start) / span * (WIDTH - LEFT - RIGHT)


def _ticks(span: float) -> float:
    for step in (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600):
        if span / step <= 12:
            return step
    return 7200


def _label_rows(events: list[tuple[float, str]]) -> list[int]:
    """Stagger event labels on rows so that none overlaps the one before it on its row."""
    row_ends: list[float] = []
    rows = []
    for x, label in events:
        width = len(label) * CHAR_WIDTH + 8
        if x + width > WIDTH - RIGHT:
            x = x - width  # drawn right-aligned to its line
        for index, row_end in enumerate(row_ends):
            if x >= row_end:
                row_ends[index] = x + width
                rows.append(index)
                break
        else:
            row_ends.append(x + width)
            rows.append(len(row_ends) - 1)
    return rows


def render_svg(report: dict) -> str:
    timeline = report.get("timeline") or {}
    series: dict = timeline.get("series") or {}
    events = sorted((e for e in report.get("events", []) if e.get("at")), key=lambda e: e["at"])
    origin = float(timeline.get("origin") or (events[0]["at"] if events else 0.0))
    bucket = float(timeline.get("bucket_s") or 1.0)
    buckets = int(timeline.get("buckets") or 0)
    start = min([origin] + [e["at"] for e in events])
    end = max([origin + bucket * buckets] + [e["at"] for e in events] + [start + 1.0])
    lanes = [db for db in ("postgres", "mongodb") if db in series] + [db for db in series if db not in LANE_LABEL]

    marks = [(_x(e["at"], start, end), e.get("label") or e["name"]) for e in events]
    label_rows = _label_rows(marks)
    top = 10 + (max(label_rows) + 1 if label_rows else 1) * LABEL_ROW + 6
    lanes_bottom = top + len(lanes) * (LANE_HEIGHT + LANE_GAP)
    height = lanes_bottom + 40
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
           f'height="{height}" font-family="sans-serif" font-size="11" role="img" '
           f'aria-label="Timeline of the drill: writes, recovery point, disaster and restore">']

    restore = report.get("restore") or {}
    if restore.get("started_at") and restore.get("finished_at"):
        x0, x1 = _x(restore["started_at"], start, end), _x(restore["finished_at"], start, end)
        out.append(f'<rect x="{x0:.1f}" y="{top - 4}" width="{max(x1 - x0, 1):.1f}" '
                   f'height="{lanes_bottom - top:.1f}" fill="#fff3e0"/>')
        out.append(f'<text x="{(x0 + x1) / 2:.1f}" y="{lanes_bottom - 4:.1f}" text-anchor="middle" '
                   f'fill="#e65100">restore: {float(report.get("rto_seconds") or 0):.1f} s (RTO)</text>')

    peak = 1
    for lanes_of_db in series.values():
        totals = [sum(row[i] for row in lanes_of_db.values()) for i in range(buckets)] if buckets else [0]
        peak = max(peak, *totals)
    bar_width = max((WIDTH - LEFT - RIGHT) * bucket / max(end - start, 0.001), 1.0)
    for index, db in enumerate(lanes):
        y_top = top + index * (LANE_HEIGHT + LANE_GAP)
        y_base = y_top + LANE_HEIGHT
        out.append(f'<text x="{LEFT - 8}" y="{y_top + LANE_HEIGHT / 2 + 4:.1f}" text-anchor="end" '
                   f'font-weight="bold">{html.escape(LANE_LABEL.get(db, db))}</text>')
        out.append(f'<line x1="{LEFT}" y1="{y_base}" x2="{WIDTH - RIGHT}" y2="{y_base}" stroke="#777"/>')
        stacked = [0] * buckets
        for fate in FATE_STYLE:
            row = series[db].get(fate)
            if not row:
                continue
            colour = FATE_STYLE[fate][0]
            for i, count in enumerate(row):
                if not count:
                    continue
                h = count / peak * (LANE_HEIGHT - 4)
                y = y_base - stacked[i] / peak * (LANE_HEIGHT - 4) - h
                x = _x(origin + i * bucket, start, end)
                out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_width:.1f}" height="{h:.1f}" '
                           f'fill="{colour}"><title>{count} {html.escape(FATE_STYLE[fate][1])}</title></rect>')
                stacked[i] += count

    for (x, label), row, event in zip(marks, label_rows, events, strict=True):
        colour = EVENT_COLOUR.get(event["name"], "#424242")
        dash = ' stroke-dasharray="4 3"' if event["name"] in ("disaster", "load_stopped", "load_started") else ""
        y_label = 10 + (row + 1) * LABEL_ROW - 3
        if event.get("until"):
            # An event that took a while (taking the recovery point): its whole interval, lightly shaded.
            x_end = _x(event["until"], start, end)
            out.append(f'<rect x="{x:.1f}" y="{y_label + 3}" width="{max(x_end - x, 1):.1f}" '
                       f'height="{lanes_bottom - y_label - 3:.1f}" fill="{colour}" fill-opacity="0.15"/>')
        out.append(f'<line x1="{x:.1f}" y1="{y_label + 3}" x2="{x:.1f}" y2="{lanes_bottom:.1f}" stroke="{colour}" '
                   f'stroke-width="1.5"{dash}/>')
        if x + len(label) * CHAR_WIDTH + 3 > WIDTH - RIGHT:
            out.append(f'<text x="{x - 3:.1f}" y="{y_label}" fill="{colour}" text-anchor="end">'
                       f'{html.escape(label)}</text>')
        else:
            out.append(f'<text x="{x + 3:.1f}" y="{y_label}" fill="{colour}">{html.escape(label)}</text>')

    step = _ticks(end - start)
    tick = 0.0
    while start + tick <= end + 1e-9:
        x = _x(start + tick, start, end)
        out.append(f'<line x1="{x:.1f}" y1="{lanes_bottom}" x2="{x:.1f}" y2="{lanes_bottom + 4}" stroke="#555"/>')
        out.append(f'<text x="{x:.1f}" y="{lanes_bottom + 16}" text-anchor="middle" fill="#555">'
                   f'{tick:g}s</text>')
        tick += step
    out.append(f'<text x="{LEFT}" y="{height - 6}" fill="#555">seconds since the write load started; bar height = '
               f'acknowledged writes per {bucket:.2f} s</text>')
    out.append("</svg>")
    return "\n".join(out)


def _row(cells: list[object], header: bool = False) -> str:
    tag = "th" if header else "td"
    return "<tr>" + "".join(f"<{tag}>{html.escape(str(cell))}</{tag}>" for cell in cells) + "</tr>"


def _fact(value) -> str:
    if value in (None, "", {}):
        return "-"
    if isinstance(value, dict) and set(value) == {"t", "i"}:
        return f"Timestamp({value['t']}, {value['i']})"
    return str(value)


def render_html(report: dict) -> str:
    ok = bool(report.get("verified")) and int(report.get("rpo_writes_lost", 1)) == 0
    verdict = "PASSED" if ok else "FAILED"
    point = report.get("recovery_point") or {}
    databases = report.get("databases") or {}
    legend = "".join(
        f'<span class="key"><span class="swatch" style="background:{colour}"></span>{html.escape(label)}</span>'
        for colour, label in FATE_STYLE.values())
    rows = [_row(["database", "acknowledged", "before the point", "restored of those", "lost", "in flight",
                  "after the point", "restored after the point", "classified by", "verdict"], header=True)]
    for db, verdict_of_db in databases.items():
        rows.append(_row([
            LANE_LABEL.get(db, db), verdict_of_db.get("acknowledged"), verdict_of_db.get("before_point"),
            verdict_of_db.get("before_point", 0) - verdict_of_db.get("lost", 0), verdict_of_db.get("lost"),
            verdict_of_db.get("in_flight"), verdict_of_db.get("after_point"), verdict_of_db.get("overshoot"),
            verdict_of_db.get("classified_by"), "ok" if verdict_of_db.get("ok") else "FAILED"]))
    restore = report.get("restore") or {}
    facts = [
        ("run", report.get("run_id")), ("host", report.get("host")),
        ("recovery point", point.get("name")), ("point time", point.get("time")),
        ("PostgreSQL LSN", point.get("lsn")), ("MongoDB cluster time", point.get("oplog_ts")),
        ("PostgreSQL restore (s)", restore.get("postgres_s")), ("MongoDB restore (s)", restore.get("mongodb_s")),
        ("repository", report.get("repository")),
    ]
    fact_rows = "".join(_row([name, _fact(value)]) for name, value in facts)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>DR drill {html.escape(str(report.get("run_id", "")))}: {verdict}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #212121; }}
.verdict {{ font-size: 1.4em; font-weight: bold; color: {"#2e7d32" if ok else "#c62828"}; }}
.figures {{ display: flex; gap: 2em; margin: 1em 0; }}
.figure {{ border: 1px solid #ccc; border-radius: 6px; padding: .6em 1.2em; }}
.figure .value {{ font-size: 2em; font-weight: bold; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #ddd; padding: .3em .7em; text-align: left; }}
.key {{ margin-right: 1.2em; white-space: nowrap; }}
.swatch {{ display: inline-block; width: .9em; height: .9em; margin-right: .3em; vertical-align: middle; }}
</style></head><body>
<h1>Disaster-recovery drill</h1>
<p class="verdict">{verdict}</p>
<div class="figures">
<div class="figure"><div>RTO (seconds to restore both databases)</div>
<div class="value">{float(report.get("rto_seconds") or 0):.1f} s</div></div>
<div class="figure"><div>RPO (acknowledged writes lost)</div>
<div class="value">{int(report.get("rpo_writes_lost", 0))}</div></div>
</div>
<h2>Timeline</h2>
{render_svg(report)}
<p>{legend}</p>
<h2>Writes before and after the recovery point</h2>
<table>{"".join(rows)}</table>
<h2>Details</h2>
<table>{fact_rows}</table>
</body></html>
"""
