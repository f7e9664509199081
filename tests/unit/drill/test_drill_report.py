"""The drill's report files: JSON with the figures, HTML with RTO, RPO and an SVG timeline."""

import json
import xml.etree.ElementTree as ET

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.drill.timeline_report import render_svg, write_report


def _report(lost: int = 0) -> dict:
    return {
        "run_id": "drill_20261125T120000Z<x>",
        "verified": lost == 0,
        "rpo_writes_lost": lost,
        "rto_seconds": 12.5,
        "recovery_point": {"name": "drill_point", "lsn": "0/5000100", "oplog_ts": "100.5"},
        "restore": {"started_at": 120.0, "finished_at": 132.5, "postgres_s": 9.0, "mongodb_s": 3.5},
        "events": [
            {"name": "load_started", "label": "write load started", "at": 100.0},
            {"name": "recovery_point", "label": "recovery point", "at": 105.0},
            {"name": "disaster", "label": "disaster: table & collection dropped", "at": 110.0},
            {"name": "restore_started", "label": "restore started", "at": 120.0},
            {"name": "restore_finished", "label": "restored", "at": 132.5},
        ],
        "timeline": {"origin": 100.0, "bucket_s": 1.0, "buckets": 10,
                     "series": {"postgres": {"kept": [5] * 5 + [0] * 5, "discarded": [0] * 5 + [5] * 5},
                                "mongodb": {"kept": [4] * 5 + [0] * 5, "lost": [0, 1] + [0] * 8}}},
        "databases": {"postgres": {"acknowledged": 50, "before_point": 25, "lost": 0, "ok": True},
                      "mongodb": {"acknowledged": 40, "before_point": 20, "lost": lost, "ok": lost == 0}},
    }


def test_svg_is_well_formed_and_draws_lanes_events_and_the_restore_band():
    svg = render_svg(_report())
    root = ET.fromstring(svg)
    texts = [element.text or "" for element in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "PostgreSQL" in texts and "MongoDB" in texts
    assert "recovery point" in texts
    assert any("RTO" in text for text in texts)
    assert len(list(root.iter("{http://www.w3.org/2000/svg}rect"))) > 10


def test_report_files_are_written_with_a_safe_name(tmp_path):
    json_path, html_path = write_report(_report(), tmp_path / "reports")
    assert json_path.name == "dr_drill-drill_20261125T120000Z_x_.json"
    assert json.loads(json_path.read_text())["rto_seconds"] == 12.5
    page = html_path.read_text()
    assert "PASSED" in page and "12.5 s" in page and "<svg" in page
    assert "<x>" not in page  # escaped


def test_a_failed_drill_says_so(tmp_path):
    html_path = write_report(_report(lost=1), tmp_path)[1]
    assert "FAILED" in html_path.read_text()
