# Copyright: sevenp platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The attribute texts every sevenp.dbops module shares. A module still states its own support level (and its
    # own description where its behaviour is particular); Ansible merges the module's keys over these.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check mode and return what would change without changing anything.
  diff_mode:
    description: Returns what changed (or would change, in check mode) when run in diff mode.
"""

    # Every module runs on POSIX hosts only.
    PLATFORM = r"""
options: {}
attributes:
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: posix
"""

    # The modules of the action group in meta/runtime.yml.
    ACTIONGROUP_DBOPS = r"""
options: {}
attributes:
  action_group:
    description: Part of the C(sevenp.dbops.dbops) action group, for setting connection options with C(module_defaults).
    support: full
    membership:
      - sevenp.dbops.dbops
"""

    # Modules that only read (the *_info modules).
    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details: The module only reads, so check mode and a normal run do the same.
  diff_mode:
    support: N/A
    details: The module changes nothing, so there is no diff.
  idempotent:
    description: Running it again gives the same result while nothing else changes the repository.
    support: full
"""
