"""The AWX configuration in awx/ is consistent with the collection: playbooks, role variables, credential injectors,
the workflow's graph, the schedule, and the artifacts the playbooks publish with set_stats."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.sevenp.dbops.plugins.module_utils.connection_args import (
    MONGODB_DATABASE_ENV,
    MONGODB_URI_ENV,
    POSTGRES_DSN_ENV,
)
from ansible_collections.sevenp.dbops.plugins.module_utils.repository_args import REPOSITORY_ENV, S3_ENV

ROOT = Path(__file__).resolve().parents[3]
AWX = ROOT / "awx"
ARTIFACT_PREFIX = "dbops_artifact_"
# Each environment variable the modules read, and the role variable that takes it when the variable is unset.
MODULE_ENV = {
    "dbops_postgres_dsn": POSTGRES_DSN_ENV,
    "dbops_mongodb_uri": MONGODB_URI_ENV,
    "dbops_mongodb_database": MONGODB_DATABASE_ENV,
    "dbops_repository": REPOSITORY_ENV,
    **{f"dbops_{option}": variable for option, variable in S3_ENV.items()},
}
SECRET_VARIABLES = {"dbops_postgres_dsn", "dbops_mongodb_uri", "dbops_s3_access_key", "dbops_s3_secret_key"}
OPERATIONS = ["check", "apply", "rollback", "status", "backup", "recovery point", "pitr", "dr drill", "cutover",
              "emergency read-only"]


def load(name: str) -> dict:
    return yaml.safe_load((AWX / name).read_text())


def templates() -> list[dict]:
    return load("job_templates.yml")["controller_templates"]


def template(name: str) -> dict:
    return next(item for item in templates() if item["name"] == name)


def survey_variables(item: dict) -> list[str]:
    return [question["variable"] for question in item.get("survey_spec", {}).get("spec", [])]


def role_options(role: str, entry_point: str = "main") -> set[str]:
    specs = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    return set(specs[entry_point].get("options", {}))


def all_role_options() -> set[str]:
    return {option for spec in ROOT.glob("roles/*/meta/argument_specs.yml")
            for entry in yaml.safe_load(spec.read_text())["argument_specs"].values()
            for option in entry.get("options", {})}


def playbook_roles(playbook: Path) -> list[tuple[str, str]]:
    """(role, entry point) of every role a playbook runs, by roles: or include_role/import_role."""
    found: list[tuple[str, str]] = []
    for play in yaml.safe_load(playbook.read_text()):
        for role in play.get("roles", []):
            found.append((role["role"].split(".")[-1], "main"))
        for task in play.get("tasks", []):
            for action in ("ansible.builtin.include_role", "ansible.builtin.import_role"):
                if action in task:
                    found.append((task[action]["name"].split(".")[-1], task[action].get("tasks_from", "main")))
    return found


def set_stats_data(playbook: Path) -> dict:
    tasks = [task for play in yaml.safe_load(playbook.read_text()) for task in play.get("tasks", [])]
    assert tasks and "ansible.builtin.set_stats" in tasks[-1], f"{playbook.name}: the last task is not set_stats"
    return tasks[-1]["ansible.builtin.set_stats"]


# Playbooks that do not publish artifacts yet: status.yml arrived with its own work, still without its set_stats
# task. test_the_playbooks_not_yet_publishing_are_still_so fails once one publishes, so the set stays true.
NOT_YET_PUBLISHING: set[str] = set()
PLAYBOOKS = sorted(path for path in ROOT.glob("playbooks/*.yml") if path.name not in NOT_YET_PUBLISHING)


def test_there_is_a_template_for_every_operation():
    assert [item["name"] for item in templates()] == [f"dbops {operation}" for operation in OPERATIONS]
    assert template("dbops check")["job_type"] == "check"
    assert template("dbops check")["playbook"] == template("dbops apply")["playbook"] == "playbooks/migrate.yml"


def test_every_template_playbook_exists_or_is_listed_as_pending():
    pending = load("job_templates.yml")["dbops_awx_pending_playbooks"]
    for item in templates():
        exists = (ROOT / item["playbook"]).is_file()
        assert exists != (item["playbook"] in pending), f"{item['name']}: {item['playbook']} exists={exists}"


@pytest.mark.parametrize("item", templates(), ids=lambda item: item["name"])
def test_survey_variables_are_variables_of_the_playbooks_roles(item):
    playbook = ROOT / item["playbook"]
    known = (set().union(*(role_options(role, entry) for role, entry in playbook_roles(playbook)))
             if playbook.is_file() else all_role_options())
    variables = survey_variables(item)
    assert variables, f"{item['name']} has no survey"
    assert set(variables) <= known, f"{item['name']}: {sorted(set(variables) - known)} are not role variables"
    # Secrets come from the credential, never from a survey answer (which AWX writes to the job's extra vars).
    assert not set(variables) & set(MODULE_ENV)


def test_survey_questions_are_well_formed():
    for item in templates() + load("workflows.yml")["controller_workflows"]:
        for question in item["survey_spec"]["spec"]:
            assert {"question_name", "variable", "type", "required"} <= set(question), question
            if question["type"] == "multiplechoice":
                assert question.get("default", question["choices"][0]) in question["choices"], question


def test_credential_type_injects_every_environment_variable_the_modules_read():
    credential_type = load("credential_types.yml")["controller_credential_types"][0]
    fields = {field["id"]: field for field in credential_type["inputs"]["fields"]}
    injected = credential_type["injectors"]["env"]
    assert set(injected) == set(MODULE_ENV.values())
    for variable, env_name in MODULE_ENV.items():
        field = variable.removeprefix("dbops_")
        assert injected[env_name] == "{{ " + field + " }}"
        assert fields[field].get("secret", False) == (variable in SECRET_VARIABLES), field
    assert not credential_type["injectors"].get("extra_vars"), "secrets must not become extra vars"


def test_every_role_reads_the_injected_variables_when_its_own_is_unset():
    for defaults in sorted(ROOT.glob("roles/*/defaults/main.yml")):
        values = yaml.safe_load(defaults.read_text())
        for variable, env_name in MODULE_ENV.items():
            if variable in values:
                assert values[variable] == "{{ lookup('ansible.builtin.env', '" + env_name + "') }}", (
                    f"{defaults}: {variable}")


def test_credentials_use_the_credential_type_and_no_literal_secret():
    type_name = load("credential_types.yml")["controller_credential_types"][0]["name"]
    credentials = load("credential_types.yml")["controller_credentials"]
    assert {credential["credential_type"] for credential in credentials} == {type_name}
    for credential in credentials:
        assert all(re.fullmatch(r"\{\{ [a-z0-9_]+( \| default\(''\))? \}\}", value)
                   for value in credential["inputs"].values()), credential["name"]
    names = {credential["name"] for credential in credentials}
    assert all(set(item["credentials"]) <= names for item in templates())


def test_workflow_graph_is_check_approval_apply_and_read_only_on_failure():
    workflow = load("workflows.yml")["controller_workflows"][0]
    nodes = {node["identifier"]: node for node in workflow["workflow_nodes"]}
    assert len(nodes) == len(workflow["workflow_nodes"])
    links = {(source, kind.removesuffix("_nodes"), target["identifier"])
             for source, node in nodes.items()
             for kind in ("success_nodes", "failure_nodes", "always_nodes")
             for target in node["related"][kind]}
    assert links == {("check", "success", "approve"), ("approve", "success", "apply"),
                     ("apply", "failure", "emergency_read_only")}
    approval = nodes["approve"]["unified_job_template"]
    assert approval["type"] == "workflow_approval" and approval["timeout"] > 0
    assert {node["unified_job_template"]["name"] for key, node in nodes.items() if key != "approve"} == {
        "dbops check", "dbops apply", "dbops emergency read-only"}
    for node in nodes.values():
        ujt = node["unified_job_template"]
        if ujt["type"] == "job_template":
            # AWX accepts a node's extra_data only for variables its job template asks in the survey.
            assert set(node.get("extra_data", {})) <= set(survey_variables(template(ujt["name"]))), node
    assert nodes["apply"]["extra_data"] == {"dbops_approved": "true"}
    assert nodes["emergency_read_only"]["extra_data"] == {"dbops_read_only": "enabled"}
    assert set(survey_variables(workflow)) <= role_options("migrate")


def test_dr_drill_schedule():
    schedule = load("schedules.yml")["controller_schedules"][0]
    drill = template(schedule["unified_job_template"])
    assert drill["playbook"] == "playbooks/dr_drill.yml"
    assert set(schedule["extra_data"]) <= set(survey_variables(drill))
    assert re.search(r"RRULE:FREQ=WEEKLY", schedule["rrule"]) and "DTSTART" in schedule["rrule"]
    assert drill["credentials"] == ["dbops drill"], "the drill restores its environment: never production's"


def test_configure_applies_every_data_file():
    play = yaml.safe_load((AWX / "configure.yml").read_text())[0]
    not_data = {"configure.yml", "requirements.yml"}
    data_files = sorted(path.name for path in AWX.glob("*.yml") if path.name not in not_data)
    assert sorted(play["vars_files"]) == data_files
    execution_environment = load("execution_environments.yml")["controller_execution_environments"][0]
    assert load("projects.yml")["controller_projects"][0]["default_environment"] == execution_environment["name"]


@pytest.mark.parametrize("playbook", PLAYBOOKS, ids=lambda path: path.name)
def test_every_playbook_publishes_its_artifacts_last(playbook):
    stats = set_stats_data(playbook)
    # One value per key, not a sum over hosts (set_stats adds up strings and lists when aggregating).
    assert stats["aggregate"] is False
    keys = set(stats["data"])
    assert {f"{ARTIFACT_PREFIX}operation", f"{ARTIFACT_PREFIX}check_mode"} <= keys
    assert all(key.startswith(ARTIFACT_PREFIX) for key in keys), keys


def test_the_playbooks_not_yet_publishing_are_still_so():
    for name in NOT_YET_PUBLISHING:
        tasks = [task for play in yaml.safe_load((ROOT / "playbooks" / name).read_text())
                 for task in play.get("tasks", [])]
        assert not any("ansible.builtin.set_stats" in task for task in tasks), f"{name} publishes: list it in PLAYBOOKS"


def test_artifacts_cannot_override_a_role_variable_of_the_next_node():
    # Artifacts become extra variables of the next workflow node, above every role variable: their names are
    # kept apart from the roles' so that they can only inform, never steer, that node.
    for path in ROOT.glob("roles/**/*.yml"):
        assert ARTIFACT_PREFIX not in path.read_text(), path
    assert not {name for name in all_role_options() if name.startswith(ARTIFACT_PREFIX)}


def test_docs_describe_every_artifact():
    docs = (ROOT / "docs" / "awx.md").read_text()
    for playbook in PLAYBOOKS:
        for key in set_stats_data(playbook)["data"]:
            assert f"`{key}`" in docs, f"{key} ({playbook.name}) is not in docs/awx.md"
