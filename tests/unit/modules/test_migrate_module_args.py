"""Argument handling of the migrate module that happens before the engine is called."""

from __future__ import annotations

import pytest

from ansible_collections.sevenp.dbops.plugins.modules import migrate


@pytest.mark.parametrize(("text", "ms"), [("500", 500), ("500ms", 500), ("5s", 5000), ("1.5s", 1500),
                                          ("2min", 120_000), (" 3 s ", 3000)])
def test_duration_ms(text, ms):
    assert migrate.duration_ms(text) == ms


@pytest.mark.parametrize("text", ["", "5h", "-1s", "fast"])
def test_duration_ms_refuses(text):
    with pytest.raises(ValueError, match="lock_timeout"):
        migrate.duration_ms(text)


def params(**overrides):
    base = {name: spec.get("default") for name, spec in migrate.argument_spec().items()}
    base.update(migrations_dir="/srv/migrations", postgres_dsn="postgresql://a:b@h/d")
    base.update(overrides)
    return base


def test_build_request_maps_every_parameter():
    request = migrate.build_request(params(lock_timeout="2s", runner_lock_timeout=7.5, batch_size=50,
                                           on_partial="compensate", target="2024.010"), check_mode=True)
    assert (request.lock_timeout_ms, request.runner_lock_wait_s, request.batch_size) == (2000, 7.5, 50)
    assert (request.on_partial, request.target, request.check_mode) == ("compensate", "2024.010", True)


def test_rollback_without_target_is_refused():
    with pytest.raises(ValueError, match="target"):
        migrate.build_request(params(state="rolled_back"), check_mode=False)


def test_result_dict_gives_every_key_a_value():
    class Outcome:
        changed = 1
        applied = ("2024.010",)
        current = None

    result = migrate.result_dict(Outcome())
    assert result["changed"] is True and result["applied"] == ["2024.010"]
    assert result["current"] == result["before"] == result["after"] == "0"
    assert result["plan"] == [] and result["queries"] == []
