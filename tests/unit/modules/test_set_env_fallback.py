"""A variable a controller credential injected empty counts as not given (module_runner.set_env_fallback)."""

from __future__ import annotations

import pytest
from ansible.module_utils.errors import AnsibleFallbackNotFound

from ansible_collections.sevenp.dbops.plugins.module_utils.module_runner import dbops_argument_spec, set_env_fallback


def test_a_set_variable_is_the_value(monkeypatch):
    monkeypatch.setenv("DBOPS_MONGODB_DATABASE", "app")
    assert set_env_fallback("DBOPS_MONGODB_DATABASE") == "app"


@pytest.mark.parametrize("value", [None, ""])
def test_an_unset_or_empty_variable_is_not_found(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("DBOPS_MONGODB_DATABASE", raising=False)
    else:
        monkeypatch.setenv("DBOPS_MONGODB_DATABASE", value)
    with pytest.raises(AnsibleFallbackNotFound):
        set_env_fallback("DBOPS_MONGODB_DATABASE")


def test_every_connection_and_repository_option_falls_back_through_it():
    spec = dbops_argument_spec({}, repository=True)
    fallbacks = {name: option["fallback"] for name, option in spec.items() if "fallback" in option}
    assert set(fallbacks) == {"postgres_dsn", "mongodb_uri", "mongodb_database", "repository", "s3_endpoint_url",
                              "s3_access_key", "s3_secret_key", "s3_region"}
    assert {fallback[0] for fallback in fallbacks.values()} == {set_env_fallback}
