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
attributes:
  check_mode:
    description: In check mode no file is written; the paths that would be written are returned.
    support: full
  diff_mode:
    description: Not applicable.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: posix
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

import traceback
from pathlib import Path

from ansible.module_utils.basic import AnsibleModule

try:
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.drill.timeline_report import (
        normalize,
        report_paths,
        write_report,
    )
except ImportError:
    ENGINE_IMPORT_ERROR = traceback.format_exc()
else:
    ENGINE_IMPORT_ERROR = None


def main() -> None:
    module = AnsibleModule(argument_spec={"report": {"type": "dict", "required": True},
                                          "report_dir": {"type": "path", "required": True}},
                           supports_check_mode=True)
    if ENGINE_IMPORT_ERROR:
        module.fail_json(msg="the sevenp.dbops engine (module_utils) could not be imported",
                         exception=ENGINE_IMPORT_ERROR)
    report = normalize(module.params["report"])
    summary = {"rto_seconds": report["rto_seconds"] or 0.0, "rpo_writes_lost": report["rpo_writes_lost"],
               "verified": bool(report.get("verified"))}
    if module.check_mode:
        json_path, html_path = report_paths(report, module.params["report_dir"])
        module.exit_json(changed=True, json_path=str(json_path), html_path=str(html_path), **summary)
    try:
        json_path, html_path = write_report(report, module.params["report_dir"])
    except OSError as exc:
        module.fail_json(msg=f"cannot write the drill report into {Path(module.params['report_dir'])}: {exc}")
    module.exit_json(changed=True, json_path=str(json_path), html_path=str(html_path), **summary)


if __name__ == "__main__":
    main()
