#!/usr/bin/python
# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: drill_report
short_description: Write a disaster-recovery drill's report as JSON and as an HTML page with a timeline
version_added: 0.1.0
description:
  - Writes C(dr_drill-<run_id>.json) and C(dr_drill-<run_id>.html) into O(report_dir). The page shows the RTO
    and the RPO, a timeline picture (inline SVG) of the acknowledged writes of each database coloured by their
    fate after the restore, with the recovery point, the disaster and the restore, and the per-database verdict.
  - Meant to run on the controller (C(delegate_to=localhost)) with the results of M(sevenp.dbops.drill_verify).
author:
  - sevenp platform team (@sevenp)
extends_documentation_fragment:
  - sevenp.dbops.attributes
  - sevenp.dbops.attributes.platform
attributes:
  check_mode:
    description: In check mode no file is written; the paths that would be written are returned.
    support: full
  diff_mode:
    support: none
options:
  report:
    description:
      - The drill's facts, with the keys C(run_id), C(host), C(repository), C(recovery_point) (name, time, lsn,
        oplog_ts), C(restore) (started_at, finished_at, postgres_s, mongodb_s), C(events) (list of name, label, at),
        and the results of M(sevenp.dbops.drill_verify) (C(verified), C(rpo_writes_lost), C(rpo_seconds),
        C(databases), C(timeline)).
      - C(rto_seconds) defaults to C(restore.finished_at - restore.started_at).
    type: dict
    required: true
  report_dir:
    description: Directory the two files are written to (created when missing).
    type: path
    required: true
"""

EXAMPLES = r"""
- name: Write the drill's report
  sevenp.dbops.drill_report:
    report_dir: "{{ playbook_dir }}/../reports"
    report: "{{ dbops_drill_facts | combine(drill_verification) }}"
  delegate_to: localhost
"""

RETURN = r"""
queries:
  description: Always empty (this module runs no statement of its own); every sevenp.dbops module returns it.
  returned: always
  type: list
  elements: str
json_path:
  description: Path of the JSON report.
  returned: always
  type: str
html_path:
  description: Path of the HTML report.
  returned: always
  type: str
rto_seconds:
  description: Seconds from the start of the restore until both databases were restored.
  returned: always
  type: float
rpo_writes_lost:
  description: Acknowledged writes before the recovery point that were lost.
  returned: always
  type: int
verified:
  description: Whether the drill's verification passed.
  returned: always
  type: bool
"""

from pathlib import Path

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sevenp.dbops.plugins.module_utils import module_runner

with module_runner.EngineImport() as ENGINE:
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.drill.timeline_report import (
        normalize,
        report_paths,
        write_report,
    )


def write(report: dict, report_dir: str, check_mode: bool) -> dict:
    """The report's files (only their paths in check mode) and its headline numbers."""
    if check_mode:
        json_path, html_path = report_paths(report, report_dir)
    else:
        try:
            json_path, html_path = write_report(report, report_dir)
        except OSError as exc:
            raise DbopsError(f"cannot write the drill report into {Path(report_dir)}: {exc}") from exc
    return {"changed": True, "json_path": str(json_path), "html_path": str(html_path),
            "rto_seconds": report["rto_seconds"] or 0.0, "rpo_writes_lost": report["rpo_writes_lost"],
            "verified": bool(report.get("verified"))}


def main() -> None:
    module = AnsibleModule(argument_spec={"report": {"type": "dict", "required": True},
                                          "report_dir": {"type": "path", "required": True}},
                           supports_check_mode=True)
    module_runner.run_module(
        module, engine="the drill report", engine_import=ENGINE,
        build=lambda params, _check_mode: normalize(params["report"]),
        run=lambda report: write(report, module.params["report_dir"], module.check_mode))


if __name__ == "__main__":
    main()
