"""The migrate module passes only what the user gave; the engine's RunRequest holds every default and check."""

from __future__ import annotations

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.run_request import RunRequest
from ansible_collections.sevenp.dbops.plugins.modules import migrate


def given(**values):
    params = dict.fromkeys(migrate.argument_spec())
    params.update(migrations_dir="/srv/migrations", postgres_dsn="postgresql://a@h/d", **values)
    return params


def test_options_not_given_take_the_engine_defaults():
    request = migrate.build_request(given(), check_mode=False)
    defaults = RunRequest(migrations_dir="/srv/migrations", postgres_dsn="postgresql://a@h/d")
    assert request == defaults


def test_given_options_are_mapped():
    request = migrate.build_request(given(lock_timeout="2s", runner_lock_timeout=0, ddl_retries=0,
                                          batch_size=10, state="rolled_back", target="0"), check_mode=True)
    assert (request.lock_timeout_ms, request.runner_lock_wait_s, request.ddl_retries) == (2000, 0, 0)
    assert (request.batch_size, request.state, request.target, request.check_mode) == (10, "rolled_back", "0", True)


@pytest.mark.parametrize(("option", "value", "named"), [
    ("batch_size", 0, "batch_size"), ("ddl_retries", -1, "ddl_retries"), ("lock_timeout", "0", "lock_timeout"),
    ("runner_lock_timeout", float("inf"), "runner_lock_timeout"),
])
def test_the_engine_checks_what_the_module_passes(option, value, named):
    with pytest.raises(ValueError, match=named):
        migrate.build_request(given(**{option: value}), check_mode=False)
