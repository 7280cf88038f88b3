"""Codes kept across reloads that no longer spell their feature.

A feature keeps its code when a reload changes it (README: codes stay with a feature across
reloads), but a code spells its district and its class (:data:`cim.coding.scheme.
CLASS_DIGITS`): one reloaded with another class, or moved into another district, carries a
code naming the old ones, which ``cim code explain`` and anyone reading the code take for
what it is. A load's report names them — only its new versions can hold one: a new code is
made of what the row is. One rule for every loader that keeps codes (components, sensors).
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from cim.coding.scheme import CLASS_DIGITS, DISTRICT_DIGITS, spelled
from cim.layerdefs import LayerDef

#: how many codes a note names (the rest are counted)
KEPT_NAMED = 10


def _substr(digits: slice) -> str:
    """SQL's ``substr(code, …)`` of a code's digits."""
    return f"substr(code, {digits.start + 1}, {digits.stop - digits.start})"


def kept_code_notes(conn: psycopg.Connection, layer: LayerDef, batch_id: int, *,
                    class_word: str, class_label: str = "") -> list[str]:
    """The report's note on the current features of batch ``batch_id`` whose code spells
    another district or class than theirs (``layer.class_column``), else none.

    ``class_word`` names the class in the note (subclass, type); ``class_label`` precedes a
    class code where the note shows one (``type 01``)."""
    digits = CLASS_DIGITS[layer.code_scheme]
    rows = conn.execute(sql.SQL(
        "SELECT code, district_code, {cls} FROM {t} WHERE batch_id = %s "
        "AND valid_to IS NULL AND ({district} IS DISTINCT FROM district_code "
        "OR {klass} IS DISTINCT FROM {cls}) ORDER BY code").format(
            cls=sql.Identifier(layer.class_column), t=sql.Identifier(layer.table),
            district=sql.SQL(_substr(DISTRICT_DIGITS)), klass=sql.SQL(_substr(digits))),
        (batch_id,)).fetchall()
    if not rows:
        return []
    shown = []
    for code, district, cls in rows[:KEPT_NAMED]:
        was_district, was_class = spelled(code, layer.code_scheme)
        shown.append(f"{code} (code: {was_district} {class_label}{was_class}, "
                     f"now: {district} {class_label}{cls})")
    more = f" and {len(rows) - KEPT_NAMED} more" if len(rows) > KEPT_NAMED else ""
    return [f"{len(rows)} {layer.name} keep codes naming another district or {class_word} "
            f"than theirs now (codes kept across reloads; the code reads as it was issued): "
            f"{', '.join(shown)}{more}"]
