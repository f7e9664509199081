# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Repository and PostgreSQL-server options shared by the backup modules (documented in doc_fragments/repository.py
and doc_fragments/postgres_server.py).

Ansible-side glue like connection_args.py: it imports nothing from Ansible and nothing third-party.
"""

from __future__ import annotations

try:
    from ansible_collections.sevenp.dbops.plugins.module_utils.dbops.repository.options import RepositoryOptions
except ImportError:  # the module reports its own failed engine import before anything here is used
    RepositoryOptions = None  # type: ignore[assignment, misc]

REPOSITORY_ENV = "DBOPS_REPOSITORY"
S3_ENV = {
    "s3_endpoint_url": "DBOPS_S3_ENDPOINT_URL",
    "s3_access_key": "DBOPS_S3_ACCESS_KEY",
    "s3_secret_key": "DBOPS_S3_SECRET_KEY",
    "s3_region": "DBOPS_S3_REGION",
}
DEFAULT_PG_BIN_DIR = "/usr/lib/postgresql/15/bin"


def repository_argument_spec(env_fallback=None) -> dict:
    """repository plus the S3 settings; env_fallback is ansible.module_utils.basic.env_fallback.

    repository is not marked required so that the environment variable can supply it; modules check it is set.
    """

    def fallback(variable: str) -> dict:
        return {"fallback": (env_fallback, [variable])} if env_fallback is not None else {}

    spec = {
        "repository": {"type": "str", **fallback(REPOSITORY_ENV)},
        "s3_endpoint_url": {"type": "str", **fallback(S3_ENV["s3_endpoint_url"])},
        "s3_access_key": {"type": "str", "no_log": True, **fallback(S3_ENV["s3_access_key"])},
        "s3_secret_key": {"type": "str", "no_log": True, **fallback(S3_ENV["s3_secret_key"])},
        "s3_region": {"type": "str", **fallback(S3_ENV["s3_region"])},
        "s3_retry_seconds": {"type": "float", "default": 60},
    }
    return spec


def postgres_server_argument_spec() -> dict:
    return {
        "pgdata": {"type": "path"},
        "pg_bin_dir": {"type": "path", "default": DEFAULT_PG_BIN_DIR},
        "pg_os_user": {"type": "str"},
    }


def repository_secrets(params: dict) -> list[str]:
    return [params[key] for key in ("s3_access_key", "s3_secret_key") if params.get(key)]


def repository_options(params: dict):
    """The engine's RepositoryOptions for the module parameters; a missing repository is the engine's to refuse."""
    return RepositoryOptions(**repository_options_kwargs(params))


def repository_options_kwargs(params: dict) -> dict:
    """Keyword arguments for the engine's RepositoryOptions."""
    return {
        "url": params["repository"],
        "s3_endpoint_url": params.get("s3_endpoint_url"),
        "s3_access_key": params.get("s3_access_key"),
        "s3_secret_key": params.get("s3_secret_key"),
        "s3_region": params.get("s3_region"),
        "retry_seconds": params.get("s3_retry_seconds") or 60,
        "local_owner": params.get("pg_os_user"),
    }
