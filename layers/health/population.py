"""Residents as the health check and the risk grading count them: one rule for both.

``population`` may hold, for the same year, residents per building and per grid cell (a city
delivers buildings where it has them and cells for the rest, or both: a cell's figure then
includes the residents of its buildings). Summed as stored, those residents counted twice. The
rule, for each year:

- one row per unit and year: of several current rows for the same unit and year (two
  deliveries naming it), the one loaded last (``valid_from``, then ``id``) counts;
- per building where present: a building's row counts wholly;
- a grid cell's row counts only what its buildings' rows of the year do not: its residents
  less those of the building rows of the year in the cell (the building row's ``grid_code``),
  never below 0 — so a cell counts the larger of its own figure and its buildings' sum.

:data:`COUNTED` is that rule as a subquery over the current rows (columns ``unit_kind``,
``unit_code``, ``district_code``, ``grid_code``, ``year``, ``geom``, ``valid_from``,
``residents``: the counted residents), for ``FROM {COUNTED} p``.
"""

from __future__ import annotations

# one current row per unit and year: the latest loaded
_ONE = ("(SELECT DISTINCT ON (unit_kind, unit_code, year) unit_kind, unit_code, district_code,"
        " grid_code, year, geom, residents, valid_from FROM population WHERE valid_to IS NULL"
        " ORDER BY unit_kind, unit_code, year, valid_from DESC, id DESC)")

COUNTED = (
    "(SELECT o.unit_kind, o.unit_code, o.district_code, o.grid_code, o.year, o.geom,"
    " o.valid_from,"
    " CASE WHEN o.unit_kind = 'grid' THEN greatest(0, o.residents - coalesce(b.n, 0))"
    " ELSE o.residents END AS residents"
    f" FROM {_ONE} o LEFT JOIN (SELECT x.year, x.grid_code, sum(x.residents) AS n"
    f" FROM {_ONE} x WHERE x.unit_kind = 'building' AND x.grid_code IS NOT NULL"
    " GROUP BY x.year, x.grid_code) b"
    " ON o.unit_kind = 'grid' AND b.year = o.year AND b.grid_code = o.unit_code)")
