"""The layout of the MongoDB ledger collections this code reads and writes.

Every document of dbops_migrations, dbops_lock, dbops_progress and dbops_touched carries the layout it was
written with (field LAYOUT_FIELD; none means layout 1, the first one, which had no such field). Stamping each
document, rather than keeping one version document somewhere, keeps the version with the data it describes: a
document written later by an older runner (which knows nothing of layouts) shows up as layout 1 and is upgraded
by the next run, where one version document would already claim the newer layout for it. ledger_layout.py does
the upgrades and refuses a layout newer than this one.

A reader of layout N reads every layout up to N (upgrades only add or mask); only writing needs the upgrade.
"""

from __future__ import annotations

LAYOUT_FIELD = "layout"
FIRST_LAYOUT = 1
# 2: every dbops_migrations entry has `version` (its _id) and no secrets in its error texts and summaries.
LAYOUT = 2
