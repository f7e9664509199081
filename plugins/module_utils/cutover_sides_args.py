# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The two sides of a cutover as module options, shared by cutover_state and cutover_switch: blue's and green's
PostgreSQL DSN and MongoDB URI (secrets: no_log) and the MongoDB database, with the rules that tie them together.

Ansible-side glue: it only describes arguments, imports nothing from Ansible and nothing third-party.
"""

from __future__ import annotations

SIDE_OPTIONS = ("blue_postgres_dsn", "green_postgres_dsn", "blue_mongodb_uri", "green_mongodb_uri",
                "mongodb_database")

# Both PostgreSQL sides or none, both MongoDB sides (and the database) or none; at least one of the databases.
REQUIRED_TOGETHER = [("blue_postgres_dsn", "green_postgres_dsn"),
                     ("blue_mongodb_uri", "green_mongodb_uri", "mongodb_database")]
REQUIRED_ONE_OF = [("blue_postgres_dsn", "blue_mongodb_uri")]


def sides_argument_spec() -> dict:
    return dict(
        blue_postgres_dsn={"type": "str", "no_log": True},
        green_postgres_dsn={"type": "str", "no_log": True},
        blue_mongodb_uri={"type": "str", "no_log": True},
        green_mongodb_uri={"type": "str", "no_log": True},
        mongodb_database={"type": "str"},
    )


def side_values(params: dict) -> dict:
    """The side options of a module's parameters, as keyword arguments of the engine's SideEndpoints."""
    return {name: params[name] for name in SIDE_OPTIONS}
