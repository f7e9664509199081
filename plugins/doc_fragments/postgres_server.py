# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Where a PostgreSQL cluster lives on the database host and who owns it (module_utils/repository_args.py).
    DOCUMENTATION = r"""
options:
  pgdata:
    description:
      - The cluster's data directory on the host the module runs on.
    type: path
  pg_bin_dir:
    description:
      - Directory with the PostgreSQL server and client programs (C(pg_ctl), C(pg_basebackup), C(pg_verifybackup),
        C(pg_dump)) of the cluster's major version.
    type: path
    default: /usr/lib/postgresql/15/bin
  pg_os_user:
    description:
      - The OS user that owns the cluster (C(postgres) on Debian packages).
      - When the module runs as root, server-side commands run as this user through C(runuser), and files and
        directories the module lays down (a restored data directory, objects in a local repository) are given to
        this user. When the module already runs as the cluster's owner it can be omitted.
    type: str
"""
