"""``python -m cim``: the same as the ``cim`` command."""

from cim.cli import entry

entry()
