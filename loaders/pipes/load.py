"""Pipe-network loaders (地下管线): survey result tables and generic GIS network layers.

Two kinds of delivery become the same records (:class:`PointRec`, :class:`SegRec`), go through
the same survey QA (:mod:`loaders.pipes.qa`) and are written the same way: in ONE
:class:`~loaders.engine.session.LoadSession` (one batch, one transaction), each layer written
directly (:mod:`loaders.engine.direct`), points first, then segments that reference the points
by their freshly allocated codes (node–edge topology), then — for GIS layers — appurtenances
such as valves, attached to the segment they lie on.

Survey tables (管线点成果表 + 管线段成果表)
    Any number of table files (Excel sheets, CSV, DBF, GeoPackage tables). Each table is told
    to be a point or a segment table by its columns (物探点号 + X + Y, or 起始点号 + 终止点号);
    its pipe class comes from a class column (管线类别), else ``--class``, else the mapping
    file, else the sheet or file name (给水管线点, 雨水_段, JS_points …). Points are PointZ at
    ground elevation; segments LineStringZ from start to end point at the pipe elevation
    (起点高程 / 终点高程 where given, else ground elevation − burial depth). X is northing and
    Y easting (:func:`cim.crs.swap_survey_xy`); zone-prefixed eastings give the CRS.

GIS layers (``--lines`` [``--points``] [``--valves``])
    A line layer whose attributes are mapped by aliases and the mapping file. Topology comes
    from node ids on the lines (node_a/node_b, 起点号/终点号) when present, else from snapping
    line ends within ``--snap`` metres. Appurtenances attach to their pipe by a pipe-id field,
    else to the nearest segment within ``--attach`` metres.

The parts live in :mod:`loaders.pipes.survey`, :mod:`loaders.pipes.gis`,
:mod:`loaders.pipes.topology` and :mod:`loaders.pipes.write`; this module holds the entry
points the CLI calls and re-exports the names it always offered.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cim.errors import ConfigError, InputError
from cim.profile import CityProfile
from loaders.engine.pages import small_pages
from loaders.pipes.gis import read_gis, split_layer
from loaders.pipes.qa import run_checks
from loaders.pipes.qa_report import QAResult
from loaders.pipes.qa_rules import Rules
from loaders.pipes.records import Delivery, PipeLoadReport, collector_paused
from loaders.pipes.survey import read_survey
from loaders.pipes.topology import topology
from loaders.pipes.write import write_delivery
from loaders.sources.tables import Mapping, read_mapping

__all__ = [
    "Delivery",
    "PipeLoadReport",
    "load_pipes",
    "load_pipes_files",
    "qa_pipes",
    "read_delivery",
    "read_gis",
    "read_survey",
    "run_qa",
    "split_layer",
    "topology",
]


def run_qa(profile: CityProfile, delivery: Delivery, rules: Rules | None = None) -> QAResult:
    with collector_paused():
        result = run_checks(delivery.points, delivery.segments, rules or Rules.load(profile),
                            survey=delivery.survey, tables=delivery.tables,
                            columns=delivery.columns, snap=delivery.snap)
    result.notes = list(delivery.notes)
    return result


@small_pages
def load_pipes(conninfo: str, profile: CityProfile, delivery: Delivery, *,
               mode: str = "update", dataset: str | None = None, district: str | None = None,
               attach: float = 5.0, rules: Rules | None = None, qa: QAResult | None = None,
               options: dict[str, Any] | None = None) -> PipeLoadReport:
    """QA, then points, segments and appurtenances in one LoadSession (one transaction)."""
    if mode == "replace" and delivery.skipped_tables:
        # replace retires what the delivery no longer holds: a table not read may hold it
        raise InputError("--mode replace would retire what these tables hold, which were not "
                         "read as point or segment tables: " + ", ".join(
                             delivery.skipped_tables) + " (name their columns with --mapping, "
                         "leave them out of the delivery, or load with --mode update)",
                         path=", ".join(map(str, delivery.inputs)))
    qa = qa or run_qa(profile, delivery, rules)
    return write_delivery(conninfo, profile, delivery, qa, mode=mode, dataset=dataset,
                          district=district, attach=attach, options=options)


# -- entry points used by the CLI ----------------------------------------------------------
def read_delivery(profile: CityProfile, tables: list[str | Path] | None = None, *,
                  lines: str | Path | None = None, points: str | Path | None = None,
                  valves: str | Path | None = None, class_opt: str | None = None,
                  crs: str | None = None, mapping: str | Path | Mapping | None = None,
                  encoding: str | None = None, snap: float = 0.01) -> Delivery:
    with collector_paused():
        return _read_delivery(profile, tables, lines=lines, points=points, valves=valves,
                              class_opt=class_opt, crs=crs, mapping=mapping,
                              encoding=encoding, snap=snap)


def _read_delivery(profile: CityProfile, tables, *, lines, points, valves, class_opt, crs,
                   mapping, encoding, snap) -> Delivery:
    m = mapping if isinstance(mapping, Mapping) else read_mapping(mapping)
    if lines is not None:
        if tables:
            raise ConfigError("give either survey tables or --lines (a GIS layer), not both")
        return read_gis(profile, lines, points=points, valves=valves, class_opt=class_opt,
                        crs=crs, mapping=m, encoding=encoding, snap=snap)
    if points is not None or valves is not None:
        raise ConfigError("--points and --valves go with --lines (GIS layers); survey point "
                          "tables are given as arguments")
    if not tables:
        raise ConfigError("give the survey tables (points and segments) or --lines FILE")
    return read_survey(profile, list(tables), class_opt=class_opt, crs=crs, mapping=m,
                       encoding=encoding)


def qa_pipes(profile: CityProfile, tables=None, **kw) -> QAResult:
    d = read_delivery(profile, tables, **kw)
    return run_qa(profile, d)


@small_pages
def load_pipes_files(conninfo: str, profile: CityProfile, tables=None, *, mode="update",
                     dataset=None, district=None, attach: float = 5.0, report_path=None,
                     **kw) -> tuple[PipeLoadReport, QAResult]:
    d = read_delivery(profile, tables, **kw)
    qa = run_qa(profile, d)
    if report_path:
        qa.write(report_path)
    opts = {k: (str(v) if isinstance(v, Path) else v) for k, v in kw.items()
            if not isinstance(v, Mapping)}
    r = load_pipes(conninfo, profile, d, mode=mode, dataset=dataset, district=district,
                   attach=attach, qa=qa, options=opts)
    return r, qa
