"""Advisory-lock keys of a load, shared by the loaders (which hold them) and by the layers
(which only look at them in ``pg_locks``), so neither room imports the other."""

from __future__ import annotations

#: (BATCH_LOCK_SPACE, batch id): held by a live load for its whole life, on its own
#: connection; a ``running`` batch whose lock nobody holds was left by a dead loader.
BATCH_LOCK_SPACE = 7301
#: (MERGE_LOCK_SPACE, hashtext(table)): loads of one layer merge one at a time.
MERGE_LOCK_SPACE = 7302
#: the error recorded for a batch whose loader stopped (killed, machine lost) mid-load
DEAD_BATCH_ERROR = "the loader stopped before committing"
