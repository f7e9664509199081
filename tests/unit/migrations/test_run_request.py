"""Every RunRequest parameter is checked before anything connects: one error naming the parameter and the value."""

from __future__ import annotations

import pytest

from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.core.errors import DbopsError
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations import engine
from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.migrations.run_request import (
    InvalidParameter,
    RunRequest,
    validate_request,
)

INF, NAN = float("inf"), float("nan")
HUGE = 10**400  # float() of it overflows: the check must not


def request(**overrides):
    return RunRequest(**{"migrations_dir": "/srv/migrations", "postgres_dsn": "postgresql://a@h/d", **overrides})


@pytest.mark.parametrize(("name", "value", "shown"), [
    ("lock_timeout_ms", 0, "0"), ("lock_timeout_ms", -5, "-5"), ("lock_timeout_ms", INF, "inf"),
    ("lock_timeout_ms", NAN, "nan"), ("lock_timeout_ms", 2**31, str(2**31)), ("lock_timeout_ms", 1.5, "1.5"),
    ("lock_timeout_ms", HUGE, "1000"), ("lock_timeout_ms", "5s", "'5s'"), ("lock_timeout_ms", True, "True"),
    ("lock_timeout_ms", None, "None"),
    ("ddl_retries", -1, "-1"), ("ddl_retries", INF, "inf"), ("ddl_retries", 10**6, "1000000"),
    ("ddl_retries", "3", "'3'"), ("ddl_retries", False, "False"),
    ("runner_lock_wait_s", -0.5, "-0.5"), ("runner_lock_wait_s", INF, "inf"), ("runner_lock_wait_s", NAN, "nan"),
    ("runner_lock_wait_s", 10.0**9, "1000000000.0"), ("runner_lock_wait_s", HUGE, "1000"),
    ("runner_lock_wait_s", "60", "'60'"),
    ("batch_size", 0, "0"), ("batch_size", -3, "-3"), ("batch_size", INF, "inf"), ("batch_size", NAN, "nan"),
    ("batch_size", 10**12, str(10**12)), ("batch_size", 2.5, "2.5"), ("batch_size", "100", "'100'"),
    ("state", "up", "'up'"), ("state", None, "None"),
    ("on_partial", "skip", "'skip'"), ("on_partial", 1, "1"),
    ("allow_destructive", "yes", "'yes'"), ("allow_drift", 1, "1"), ("check_mode", None, "None"),
    ("target", 2024.01, "2024.01"), ("target", None, "None"),
    ("migrations_dir", "", "''"), ("migrations_dir", None, "None"),
    ("mongodb_database", "a.b", "'a.b'"), ("mongodb_database", "x" * 64, "'xxx"), ("mongodb_database", 7, "7"),
])
def test_bad_value_is_refused_naming_parameter_and_value(name, value, shown):
    with pytest.raises(InvalidParameter) as err:
        validate_request(request(**{name: value}))
    message = str(err.value)
    assert message.startswith(name) and "must be" in message and f"not {shown}" in message
    assert isinstance(err.value, DbopsError) and isinstance(err.value, ValueError)


@pytest.mark.parametrize(("target", "oddity"), [
    ("２０２４", "U+FF12"), ("1..2", "empty group"), (".5", "starts or ends with a dot"),
    ("5.", "starts or ends with a dot"), ("v1", "'v' (U+0076)"), ("", "empty"),
])
def test_target_must_be_latest_or_a_plain_version(target, oddity):
    with pytest.raises(InvalidParameter, match="target must be 'latest' or a version") as err:
        validate_request(request(target=target))
    assert oddity in str(err.value)


def test_rollback_needs_a_target():
    with pytest.raises(InvalidParameter, match="state rolled_back needs a target"):
        validate_request(request(state="rolled_back"))


@pytest.mark.parametrize("name", ["postgres_dsn", "mongodb_uri"])
def test_connection_strings_of_the_wrong_type_are_named_but_never_echoed(name):
    with pytest.raises(InvalidParameter, match=f"^{name} must be a string, not a bytes$"):
        validate_request(request(**{name: b"postgresql://a:hunter2secret@h/d"}))


def test_good_values_pass_unchanged():
    good = request(lock_timeout_ms=2000.0, ddl_retries=0, runner_lock_wait_s=0, batch_size=1, target="2024.010",
                   mongodb_uri="mongodb://h", mongodb_database="education_platform", state="rolled_back")
    assert validate_request(good) is good and good.validated() is good


def test_defaults_have_one_home():
    """The module passes only what the user gave: RunRequest's defaults are the run's defaults."""
    plain = RunRequest(migrations_dir="/m")
    assert (plain.lock_timeout_ms, plain.ddl_retries, plain.runner_lock_wait_s) == (5000, 5, 60.0)
    assert (plain.state, plain.target, plain.on_partial, plain.batch_size) == ("applied", "latest", "resume", None)


def test_the_engine_checks_before_touching_the_directory_or_a_server(tmp_path):
    with pytest.raises(InvalidParameter, match="lock_timeout_ms"):
        engine.run(RunRequest(migrations_dir=str(tmp_path / "missing"), postgres_dsn="d", lock_timeout_ms=INF))


def test_an_integer_too_large_to_print_is_still_refused_by_name():
    with pytest.raises(InvalidParameter, match="^batch_size must be .* not an integer too large to print$"):
        validate_request(request(batch_size=10**5000))
