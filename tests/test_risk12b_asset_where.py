"""A risk type added only by hand (0105 热力管道泄漏, 0202, 0301, 0402) had no limit on its
assets beyond their layer: a heating leak was accepted on a gas main. risk_types.csv's
``asset_where`` (column=value|value; …, the form of the rules' ``where``) says what its
asset must be, and `cim risk add --asset` refuses another with the type, the asset and what
it must be — through the same check as the rules' ``where``.

Known by construction: a 灰口铸铁 gas main G1 (pipe_class 03) and a heating pipe H1
(pipe_class 04, tests/risk_fixture.py) on an empty city; the platform's risk_types.csv says
0105 is on pipe_class 04 (read from the file here).
"""

from __future__ import annotations

import psycopg
import pytest
import shapely.affinity
from shapely.geometry import LineString

from cim.errors import ConfigError
from cim.profile import DICTIONARY_DIR, read_csv_dictionary
from tests.conftest import drop_database, make_db, run_cli, server_url
from tests.risk_fixture import X0, Y0, insert_gas_main, insert_pipe


@pytest.fixture(scope="module")
def d(jining_profile):
    db = make_db("r12bwhere", jining_profile)
    with psycopg.connect(db.conninfo) as conn:
        insert_gas_main(conn, "G1")
        line = shapely.affinity.translate(LineString([(0, 200), (100, 200)]), X0, Y0)
        insert_pipe(conn, "H1", line, pipe_class="04", start_point_code="h",
                    end_point_code="i", owner="热力公司")
    yield db
    drop_database(server_url(), db.name)


def _where(code: str) -> str:
    return next(r["asset_where"] for r in read_csv_dictionary(DICTIONARY_DIR / "risk_types.csv")
                if r["code"] == code)


def test_a_heating_leak_on_a_gas_main_is_refused(d):
    assert _where("0105") == "pipe_class=04"
    proc = run_cli(["risk", "add", "--type", "0105", "--asset", "G1", "--unit", "热力公司"],
                   d.env())
    assert proc.returncode == 3, proc.stderr
    for words in ("field '--asset'", "G1 (pipe_segments, pipe_class 03)", "0105 (热力管道泄漏)",
                  "risk_types.csv asset_where: pipe_class 04"):
        assert words in proc.stderr, proc.stderr
    assert d.scalar("SELECT count(*) FROM risk_points") == 0
    run_cli(["risk", "add", "--type", "0105", "--asset", "H1"], d.env(), check=True)
    assert d.rows("SELECT risk_type_code, asset_code FROM risk_points WHERE valid_to IS NULL"
                  ) == [("0105", "H1")]


def test_the_rules_where_is_the_same_check(d):
    """A gas leak on the heating pipe: refused by the rule's where, in the same words."""
    proc = run_cli(["risk", "add", "--type", "0101", "--asset", "H1", "--unit", "燃气公司"],
                   d.env())
    assert proc.returncode == 3, proc.stderr
    for words in ("H1 (pipe_segments, pipe_class 04)", "rule gas_pipes: pipe_class 03"):
        assert words in proc.stderr, proc.stderr


class _City:
    """A profile whose risk_types.csv is ``path`` (its other dictionaries the platform's)."""

    def __init__(self, path):
        self.path = path

    def dictionary_path(self, name: str, suffix: str):
        return self.path if name == "risk_types" else DICTIONARY_DIR / f"{name}{suffix}"


@pytest.mark.parametrize("cell, field, words", [
    ("no_such=04", "asset_where", "pipe_segments has no column 'no_such'"),
    ("pipe_class=", "asset_where", "pipe_class: no value"),
    ("pipe_class 04", "asset_where", "column=value|value"),
])
def test_a_bad_asset_where_names_file_row_and_field(tmp_path, cell, field, words):
    from layers.risk.config import load_types

    src = (DICTIONARY_DIR / "risk_types.csv").read_text(encoding="utf-8").splitlines()
    row = next(i for i, r in enumerate(src) if r.startswith("0105,"))
    src[row] = src[row].replace(",pipe_class=04,", f",{cell},")
    p = tmp_path / "risk_types.csv"
    p.write_text("\n".join(src) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_types(_City(p))
    msg = str(e.value)
    assert words in msg and "risk_types.csv" in msg and f"row {row + 1}" in msg and f"field {field!r}" in msg, msg
