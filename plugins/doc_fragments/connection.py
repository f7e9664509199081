# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The connection options of plugins/module_utils/connection_args.py, shared by every module of the collection.
    DOCUMENTATION = r"""
options:
  postgres_dsn:
    description:
      - libpq connection string of the PostgreSQL database, as a URI (V(postgresql://user:password@host:5432/dbname))
        or as C(key=value) pairs.
      - The password is never shown in the output, in errors or in logs.
      - When omitted, taken from the E(DBOPS_POSTGRES_DSN) environment variable of the module's host, which an AWX
        custom credential type can inject.
    type: str
  mongodb_uri:
    description:
      - MongoDB connection string (V(mongodb://user:password@host:27017/?replicaSet=rs0)).
      - The password is never shown in the output, in errors or in logs.
      - When omitted, taken from the E(DBOPS_MONGODB_URI) environment variable.
    type: str
  mongodb_database:
    description:
      - Name of the MongoDB database the MongoDB parts work on.
      - When omitted, taken from the E(DBOPS_MONGODB_DATABASE) environment variable.
    type: str
requirements:
  - psycopg >= 3.1 (when O(postgres_dsn) is used)
  - pymongo >= 4.6 (when O(mongodb_uri) is used)
"""
