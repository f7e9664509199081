"""playbooks/migrate.yml and playbooks/rollback.yml end to end with ansible-playbook against a real PostgreSQL 15."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from tests.support.ansible_cli import run_module, run_playbook
from tests.support.sample_sets import add_set

CALLBACKS = Path(__file__).resolve().parents[2] / "support" / "ansible_callbacks"

pytestmark = pytest.mark.slow

SAMPLE_VERSIONS = ["2023.001", "2024.010", "2024.011", "2024.012", "2024.013"]


def schemas(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT nspname FROM pg_namespace WHERE nspname !~ '^(pg_|information_schema)'")
        return {row[0] for row in rows}


def ledger(dsn: str) -> dict[str, str]:
    with psycopg.connect(dsn) as conn:
        return dict(conn.execute("SELECT version, status FROM dbops.schema_migrations").fetchall())


def seed(dsn: str) -> None:
    """Rows for the backfills of 2024.011 and 2024.013 to migrate."""
    with psycopg.connect(dsn) as conn:
        conn.execute("INSERT INTO auth.users (email, password_hash) "
                     "SELECT format('u%s@example.invalid', g), 'x' FROM generate_series(1, 50) AS g")
        conn.execute("INSERT INTO content.courses (slug, title, instructor_id, duration_interval) "
                     "SELECT format('c%s', g), 't', g, make_interval(mins => g * 9) FROM generate_series(1, 50) AS g")
        conn.execute("INSERT INTO analytics.user_activities (user_id, activity_type, created_at) "
                     "SELECT g % 50 + 1, 'view', timestamptz '2023-12-20' + g * interval '7 hours' "
                     "FROM generate_series(1, 700) AS g")


def apply_with_module(dbops_vars: dict, target: str = "latest") -> None:
    """Set-up through the module alone (quicker than a playbook run)."""
    done = run_module("sevenp.dbops.migrate", {"postgres_dsn": dbops_vars["dbops_postgres_dsn"],
                                               "migrations_dir": dbops_vars["dbops_migrations_dir"], "target": target})
    assert done.returncode == 0, done.output


def test_apply_rerun_and_rollback_round_trip(pg_cluster, pg_db, pg_db_name, dbops_vars, tmp_path):
    empty = pg_cluster.schema_dump(pg_db_name)
    apply_with_module(dbops_vars, target="2023.001")
    seed(pg_db)
    at_2023_001 = pg_cluster.schema_dump(pg_db_name)

    applied = run_playbook("migrate.yml", dbops_vars, tmp_path)
    assert applied.returncode == 0, applied.explain()
    assert applied.recap()["changed"] >= 1
    assert applied.report["status"] == "succeeded"
    assert applied.report["applied"] == SAMPLE_VERSIONS[1:]
    assert (applied.report["before"], applied.report["after"]) == ("2023.001", "2024.013")
    assert ledger(pg_db) == dict.fromkeys(SAMPLE_VERSIONS, "applied")
    with psycopg.connect(pg_db) as conn:
        wrong_minutes = conn.execute("SELECT count(*) FROM content.courses WHERE duration_minutes IS NULL "
                                     "OR duration_minutes <> round(extract(epoch FROM duration_interval) / 60)")
        assert wrong_minutes.fetchone()[0] == 0
        assert conn.execute("SELECT (SELECT count(*) FROM analytics.user_activities), "
                            "(SELECT count(*) FROM analytics.user_activities_partitioned)").fetchone() == (700, 700)
    at_latest = pg_cluster.schema_dump(pg_db_name)

    rerun = run_playbook("migrate.yml", dbops_vars, tmp_path)
    assert rerun.returncode == 0, rerun.explain()
    assert rerun.recap()["changed"] == 0, rerun.explain()
    assert rerun.report["applied"] == [] and rerun.report["changed"] is False
    assert pg_cluster.schema_dump(pg_db_name) == at_latest

    back = run_playbook("rollback.yml", {**dbops_vars, "dbops_version": "2023.001"}, tmp_path)
    assert back.returncode == 0, back.explain()
    assert back.report["rolled_back"] == list(reversed(SAMPLE_VERSIONS[1:]))
    assert back.report["after"] == "2023.001"
    assert pg_cluster.schema_dump(pg_db_name) == at_2023_001

    to_zero = run_playbook("rollback.yml", {**dbops_vars, "dbops_version": "0"}, tmp_path)
    assert to_zero.returncode == 0, to_zero.explain()
    assert to_zero.report["rolled_back"] == ["2023.001"] and to_zero.report["after"] == "0"
    assert pg_cluster.schema_dump(pg_db_name) == empty


def test_check_mode_creates_nothing_and_reports_lint_findings(pg_db, dbops_vars, samples, tmp_path):
    # A finding of a rule that is not in dbops_lint_fail_on is reported and does not stop the run.
    add_set(samples, "2024.030_email_index", "CREATE INDEX users_email_lower_idx ON auth.users (lower(email));\n",
            down="DROP INDEX auth.users_email_lower_idx;\n")
    before = schemas(pg_db)
    run = run_playbook("migrate.yml", {**dbops_vars, "dbops_lint_fail_on": ["adding-required-field"]}, tmp_path,
                       "--check")
    assert run.returncode == 0, run.explain()
    assert schemas(pg_db) == before, "check mode created schemas (the ledger schema dbops included)"
    assert "dbops" not in schemas(pg_db)
    assert run.report["status"] == "planned"
    # Nothing was applied: the sets that would be are listed as planned, in the JSON and on the HTML page.
    assert run.report["applied"] == [] and run.report["planned"] == [*SAMPLE_VERSIONS, "2024.030"]
    assert [(s["version"], s["status"]) for s in run.report["sets"]] == \
        [(version, "planned") for version in [*SAMPLE_VERSIONS, "2024.030"]]
    page = (tmp_path / "reports" / run.report_name.replace(".json", ".html")).read_text()
    assert "<th>Applied</th>" not in page and "<th>Planned (would apply)</th>" in page
    assert "<td>2024.030</td><td>planned</td>" in page
    assert [step["version"] for step in run.report["plan"]] == [*SAMPLE_VERSIONS, "2024.030"]
    assert any("CREATE INDEX CONCURRENTLY" in query for query in run.report["queries"])
    assert any(f["rule_name"] == "require-concurrent-index-creation" and f["version"] == "2024.030"
               and not f["blocking"] for f in run.report["lint"]["findings"])


def test_failing_set_reports_one_message_and_rolls_the_run_back(pg_cluster, pg_db, pg_db_name, dbops_vars, samples,
                                                                tmp_path):
    broken = add_set(samples, "2024.020_broken", "CREATE TABLE auth.audit (id bigint PRIMARY KEY);\n"
                     "ALTER TABLE auth.audit ADD COLUMN at timestamptz;\n"
                     "ALTER TABLE auth.no_such_table ADD COLUMN x integer;\n",
                     down="DROP TABLE auth.audit;\n")
    empty = pg_cluster.schema_dump(pg_db_name)

    run = run_playbook("migrate.yml", {**dbops_vars, "dbops_rollback_on_failure": True}, tmp_path)

    assert run.returncode != 0
    assert "Traceback" not in run.output
    up_file = str(broken / "postgres.up.sql")
    failed_lines = [line for line in run.stdout.splitlines() if line.startswith("fatal:")]
    assert failed_lines, run.explain()
    assert f"2024.020 ({up_file})" in run.report["error"], run.report["error"]
    assert "auth.no_such_table" in run.report["error"] or "no_such_table" in run.report["error"]
    assert run.report["status"] == "failed" and run.report["failed_phase"] == "apply"
    assert run.report["rollback_on_failure"]["performed"] is True
    assert run.report["rollback_on_failure"]["rolled_back"] == list(reversed(SAMPLE_VERSIONS))
    assert pg_cluster.schema_dump(pg_db_name) == empty
    assert ledger(pg_db)["2024.020"] == "failed"


def test_failing_set_leaves_the_database_as_it_was(pg_cluster, pg_db, pg_db_name, dbops_vars, samples, tmp_path):
    apply_with_module(dbops_vars)
    with psycopg.connect(pg_db) as conn:
        conn.execute("INSERT INTO auth.users (email, password_hash) VALUES ('u@example.invalid', 'x')")
        conn.execute("INSERT INTO content.courses (slug, title, instructor_id, duration_interval) "
                     "SELECT format('c%s', g), 't', 1, interval '1 hour' FROM generate_series(1, 9) AS g")
    # The failed set's pre rules ran (and passed) before its SQL failed: their results are in both report files.
    rules = ("validate:\n"
             "  - row_count: {table: auth.users, min: 1}\n    phase: pre\n"
             "  - sql: SELECT id FROM content.courses WHERE slug = 'c7'\n    phase: pre\n    name: no c7 course\n")
    at_latest = pg_cluster.schema_dump(pg_db_name)
    broken = add_set(samples, "2024.020_broken", "CREATE TABLE auth.audit (id bigint PRIMARY KEY);\n"
                     "ALTER TABLE auth.audit ADD COLUMN at timestamptz;\n"
                     "SELECT 1 / 0;\n", down="DROP TABLE auth.audit;\n",
                     manifest="description: audit table\n" + rules.replace("slug = 'c7'", "slug = 'none'"))

    run = run_playbook("migrate.yml", {**dbops_vars, "dbops_metrics_dir": str(tmp_path / "textfile")}, tmp_path)

    assert run.returncode != 0
    assert "Traceback" not in run.output
    metrics = (tmp_path / "textfile" / "sevenp_dbops.prom").read_text()
    assert 'sevenp_dbops_migration_last_run_success{database="postgres",environment="test"} 0' in metrics
    assert f"2024.020 ({broken / 'postgres.up.sql'})" in run.report["error"]
    assert "division by zero" in run.report["error"]
    assert pg_cluster.schema_dump(pg_db_name) == at_latest
    assert run.report["after"] == "2024.013"
    assert ledger(pg_db)["2024.020"] == "failed"
    validation = {rule["kind"]: rule for rule in run.report["validation"]}
    assert set(validation) == {"row_count", "sql"}, run.report["validation"]
    assert validation["row_count"]["version"] == "2024.020" and validation["row_count"]["phase"] == "pre"
    assert validation["row_count"]["status"] == "passed" and validation["row_count"]["ok"] is True
    assert validation["sql"]["status"] == "passed" and validation["sql"]["offending"] == 0
    html = (tmp_path / "reports" / run.report_name.replace(".json", ".html")).read_text()
    assert "validate[1] no c7 course" in html and "row_count" in html

    # A failing rule: its offending keys are in both reports too (check mode checks the first set's pre rules).
    (broken / "migration.yml").write_text("description: audit table\n" + rules)
    planned = run_playbook("migrate.yml", dbops_vars, tmp_path, "--check")
    assert planned.returncode == 0, planned.explain()
    failed = [rule for rule in planned.report["validation"] if rule["status"] == "failed"]
    assert [(rule["version"], rule["kind"], rule["offending"]) for rule in failed] == [("2024.020", "sql", 1)]
    assert failed[0]["examples"], failed[0]
    html = (tmp_path / "reports" / planned.report_name.replace(".json", ".html")).read_text()
    assert "failed" in html and failed[0]["examples"][0] in html


def test_one_module_execution_per_host_run(pg_db, dbops_vars, tmp_path):
    """Plan, lint, approval and apply are one module execution; the report files are written on the controller."""
    executions = tmp_path / "module-executions.txt"
    executions.touch()
    env = {"ANSIBLE_CALLBACK_PLUGINS": str(CALLBACKS), "ANSIBLE_CALLBACKS_ENABLED": "module_executions",
           "DBOPS_MODULE_EXECUTIONS_FILE": str(executions)}

    run = run_playbook("migrate.yml", {**dbops_vars, "dbops_require_approval": True, "dbops_approved": True},
                       tmp_path, env=env)

    assert run.returncode == 0, run.explain()
    assert run.report["applied"] == SAMPLE_VERSIONS
    assert run.report["lint"]["findings"] is not None
    # The module runs as an asynchronous job (dbops_progress_interval): the poller's looks at the job are no
    # executions of the engine; with no backfill running long enough, no progress is read.
    ran = executions.read_text().splitlines()
    assert [line for line in ran if line != "localhost ansible.legacy.async_status"] == \
        ["localhost sevenp.dbops.migrate"], ran


def stand_in_backup_role(root: Path, task: str) -> Path:
    """A role standing in for the backup role (dbops_backup_role takes a path), running one task."""
    (root / "tasks").mkdir(parents=True)
    (root / "tasks" / "main.yml").write_text(f"---\n- name: Stand-in backup\n  {task}\n")
    return root


def test_a_backup_before_migrating_needs_the_plan_first(pg_db, dbops_vars, tmp_path):
    """The plan (check mode) and then the backup, then the apply: two module executions; a failed backup is
    reported as the backup phase, with the plan, and nothing applied."""
    executions = tmp_path / "module-executions.txt"
    env = {"ANSIBLE_CALLBACK_PLUGINS": str(CALLBACKS), "ANSIBLE_CALLBACKS_ENABLED": "module_executions",
           "DBOPS_MODULE_EXECUTIONS_FILE": str(executions)}
    failing = stand_in_backup_role(tmp_path / "failing_backup", "ansible.builtin.fail: {msg: no repository}")
    variables = {**dbops_vars, "dbops_backup_before_migrate": True, "dbops_backup_role": str(failing)}

    refused = run_playbook("migrate.yml", variables, tmp_path, env=env)

    assert refused.returncode != 0
    assert (refused.report["failed_phase"], refused.report["error"]) == ("backup", "no repository")
    assert refused.report["applied"] == [] and refused.report["before"] == "0"
    assert [step["version"] for step in refused.report["plan"]] == SAMPLE_VERSIONS
    assert "dbops" not in schemas(pg_db)
    assert executions.read_text().splitlines() == ["localhost sevenp.dbops.migrate"]  # the plan, in check mode

    executions.write_text("")
    backed_up = stand_in_backup_role(tmp_path / "backup", "ansible.builtin.debug: {msg: backed up}")
    done = run_playbook("migrate.yml", {**variables, "dbops_backup_role": str(backed_up)}, tmp_path, env=env)

    assert done.returncode == 0, done.explain()
    assert done.report["applied"] == SAMPLE_VERSIONS and "backed up" in done.stdout
    # The apply runs as an asynchronous job (dbops_progress_interval): the poller's looks at the job are no
    # executions of the engine.
    ran = executions.read_text().splitlines()
    assert [line for line in ran if line != "localhost ansible.legacy.async_status"] == \
        ["localhost sevenp.dbops.migrate"] * 2, ran


def test_lint_failure_on_a_rule_of_dbops_lint_fail_on(pg_db, dbops_vars, samples, tmp_path):
    add_set(samples, "2024.030_email_index", "CREATE INDEX users_email_lower_idx ON auth.users (lower(email));\n",
            down="DROP INDEX auth.users_email_lower_idx;\n")
    variables = {**dbops_vars, "dbops_lint_fail_on": ["require-concurrent-index-creation"]}

    run = run_playbook("migrate.yml", variables, tmp_path)

    assert run.returncode != 0
    assert run.report["failed_phase"] == "lint"
    assert "require-concurrent-index-creation" in run.report["error"]
    assert "2024.030" in run.report["error"]
    blocking = [f for f in run.report["lint"]["findings"] if f["blocking"]]
    assert [(f["version"], f["rule_name"]) for f in blocking] == [("2024.030", "require-concurrent-index-creation")]
    assert "dbops" not in schemas(pg_db) and "auth" not in schemas(pg_db), "the lint failure let something run"


def test_approval_gate(pg_db, dbops_vars, tmp_path):
    gated = {**dbops_vars, "dbops_require_approval": True, "dbops_environment": "production"}

    refused = run_playbook("migrate.yml", gated, tmp_path)
    assert refused.returncode != 0
    assert refused.report["failed_phase"] == "approval"
    assert "dbops_approved=true" in refused.report["error"]
    assert "dbops" not in schemas(pg_db)

    planned = run_playbook("migrate.yml", gated, tmp_path, "--check")
    assert planned.returncode == 0, "check mode needs no approval\n" + planned.explain()

    approved = run_playbook("migrate.yml", {**gated, "dbops_approved": True, "dbops_approved_by": "release-manager"},
                            tmp_path)
    assert approved.returncode == 0, approved.explain()
    assert approved.report["approval"] == {"required": True, "approved": True, "approved_by": "release-manager"}
    assert approved.report["applied"] == SAMPLE_VERSIONS


def test_dsn_password_never_in_output(pg_cluster, pg_db, pg_db_name, dbops_vars, tmp_path):
    password = "Sw0rdfish-dbops-x9"
    pg_cluster.psql(f"CREATE ROLE app_migrator LOGIN SUPERUSER PASSWORD '{password}'")
    try:
        dsn = pg_cluster.dsn(pg_db_name, user="app_migrator", password=password)
        good = run_playbook("migrate.yml", {**dbops_vars, "dbops_postgres_dsn": dsn}, tmp_path, "-vvv")
        assert good.returncode == 0, good.explain()
        assert password not in good.output
        assert all(password not in path.read_text() for path in (tmp_path / "reports").iterdir())

        wrong = pg_cluster.dsn(pg_db_name, user="app_migrator", password=password + "-wrong")
        bad = run_module("sevenp.dbops.migrate", {"postgres_dsn": wrong,
                                                  "migrations_dir": dbops_vars["dbops_migrations_dir"]}, "-vvv")
        assert bad.returncode != 0 and bad.result["error_type"] == "ConnectionFailed"
        assert "app_migrator" in bad.result["msg"]  # the error is still useful
        assert password not in bad.output
    finally:
        pg_cluster.psql("DROP OWNED BY app_migrator CASCADE", dbname=pg_db_name)
        pg_cluster.psql("DROP ROLE app_migrator")
