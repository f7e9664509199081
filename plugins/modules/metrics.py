#!/usr/bin/python
# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: metrics
short_description: Export the results of the collection's modules as Prometheus metrics for node_exporter
version_added: 0.2.0
description:
  - Turns the registered results of C(sevenp.dbops.migrate), C(sevenp.dbops.backup) or C(sevenp.dbops.backup_info),
    C(sevenp.dbops.read_only) and C(sevenp.dbops.recovery_point) (and replication lag) into gauges, and merges
    them into a Prometheus text-format file in node_exporter's textfile collector directory.
  - The families of other sources already in the file are kept, so each role updates only what it knows. The file
    is replaced atomically (written beside it, then renamed), under a lock shared by concurrent runs on the host.
  - Times are exported as Unix timestamps (C(sevenp_dbops_backup_last_timestamp_seconds)); an age is
    C(time() - metric) in PromQL, so the file stays true between runs.
  - The metrics are described in the collection's C(docs/metrics.md).
author:
  - sevenp platform team (@sevenp)
extends_documentation_fragment:
  - sevenp.dbops.attributes
  - sevenp.dbops.attributes.platform
attributes:
  check_mode:
    description: Computes the new file and reports whether it would change, without writing it.
    support: full
  diff_mode:
    description: Returns the file's lines before and after.
    support: full
  idempotent:
    description:
      - The same results give the same file, and RV(changed=false). A migrate run (not a status) records the time
        it ended, so each run changes its metric.
    support: full
options:
  metrics_dir:
    description:
      - The textfile collector directory of node_exporter (C(--collector.textfile.directory)); Debian's
        C(prometheus-node-exporter) package uses C(/var/lib/prometheus/node-exporter).
    type: path
    required: true
  file_name:
    description:
      - The file in O(metrics_dir); node_exporter reads only names ending in C(.prom).
    type: str
    default: sevenp_dbops.prom
  create_dir:
    description:
      - Create O(metrics_dir) when it does not exist; otherwise a missing directory fails the task.
    type: bool
    default: false
  environment:
    description:
      - Value of the C(environment) label on every sample (for example the inventory's C(dbops_environment)).
    type: str
  migrations:
    description:
      - A registered C(sevenp.dbops.migrate) result (a run, or O(sevenp.dbops.migrate#module:state=status)).
    type: dict
  backups:
    description:
      - A registered C(sevenp.dbops.backup_info) or C(sevenp.dbops.backup) result.
    type: dict
  read_only:
    description:
      - A registered C(sevenp.dbops.read_only) result.
    type: dict
  recovery_point:
    description:
      - A registered C(sevenp.dbops.recovery_point) result.
    type: dict
  replication:
    description:
      - Replication lag, as C(lag_bytes) and C(lag_seconds), or per database under C(databases).
    type: dict
notes:
  - At least one of O(migrations), O(backups), O(read_only), O(recovery_point) and O(replication) is required.
seealso:
  - module: sevenp.dbops.backup_info
  - name: node_exporter textfile collector
    description: How node_exporter exposes the files of its textfile directory.
    link: https://github.com/prometheus/node_exporter#textfile-collector
"""

EXAMPLES = r"""
- name: Migrate
  sevenp.dbops.migrate:
    postgres_dsn: "{{ dbops_postgres_dsn }}"
    migrations_dir: "{{ dbops_migrations_dir }}"
  register: migration

- name: Export the migration's outcome for Prometheus
  sevenp.dbops.metrics:
    metrics_dir: /var/lib/prometheus/node-exporter
    environment: production
    migrations: "{{ migration }}"

- name: Export backup age, size and archive health
  sevenp.dbops.metrics:
    metrics_dir: /var/lib/prometheus/node-exporter
    backups: "{{ catalog }}"
"""

RETURN = r"""
queries:
  description: Always empty; the module runs no database statement.
  returned: always
  type: list
  elements: str
changed:
  description: Whether the file's content changed (or would, in check mode).
  returned: always
  type: bool
path:
  description: The metrics file.
  returned: always
  type: str
  sample: /var/lib/prometheus/node-exporter/sevenp_dbops.prom
written:
  description: Whether the file was written by this run (never in check mode).
  returned: always
  type: bool
families:
  description: The metric families this run exported.
  returned: always
  type: list
  elements: str
  sample: [sevenp_dbops_migration_version_info, sevenp_dbops_backup_last_timestamp_seconds]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sevenp.dbops.plugins.module_utils import module_runner

with module_runner.EngineImport() as ENGINE:
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.jobs.metrics_update import (
        MetricsRequest,
        update_metrics,
    )

SOURCES = ["migrations", "backups", "read_only", "recovery_point", "replication"]


def argument_spec() -> dict:
    return dict(
        metrics_dir={"type": "path", "required": True},
        file_name={"type": "str", "default": "sevenp_dbops.prom"},
        create_dir={"type": "bool", "default": False},
        environment={"type": "str"},
        **{source: {"type": "dict"} for source in SOURCES},
    )


def build_request(params: dict, check_mode: bool) -> MetricsRequest:
    return MetricsRequest(directory=params["metrics_dir"], file_name=params["file_name"],
                          environment=params["environment"], create_dir=params["create_dir"],
                          check_mode=check_mode, **{source: params[source] for source in SOURCES})


def metrics_result(outcome) -> dict:
    values = module_runner.engine_result(outcome)
    for internal in ("diff_lines", "before_text", "after_text"):
        values.pop(internal, None)
    return values


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), required_one_of=[SOURCES], supports_check_mode=True)
    outcome: dict = {}

    def run(request):
        outcome["result"] = update_metrics(request)
        return outcome["result"]

    def diff(values: dict) -> dict:
        result = outcome.get("result")
        return {"before": getattr(result, "before_text", ""), "after": getattr(result, "after_text", ""),
                "before_header": values.get("path"), "after_header": values.get("path")}

    module_runner.run_module(module, engine="the metrics engine", engine_import=ENGINE, build=build_request, run=run,
                             result=metrics_result, diff=diff)


if __name__ == "__main__":
    main()
