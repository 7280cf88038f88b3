"""Photos per case report: a report holding thousands of small photos was accepted (only the
body-size cap applied; each stored as a row of case_attachments). A report carries at most
the case workflow's ``attachments.max_photos``, a number the city edits in its own copy of
case_workflow.yaml: more is a 400 (HTTP, naming ``photos``) or an error naming ``--photo``
(CLI), saying the limit, and no case is opened.

The limits are known by construction: the platform's file as read here with yaml, and the
city copy this test writes (2).
"""

from __future__ import annotations

import base64
import json
import struct
import uuid
import zlib

import psycopg
import pytest
import requests
import yaml

from cim.profile import DICTIONARY_DIR, load_profile
from layers.cases.auth import add_user
from tests.conftest import make_db, run_cli, scratch_api

CITY_LIMIT = 2


def _png(seed: int) -> bytes:
    """A real 1×1 PNG (its pixel differs by seed)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    raw = b"\x00" + bytes([seed % 256, 0, 0])
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _platform_limit() -> int:
    raw = yaml.safe_load((DICTIONARY_DIR / "case_workflow.yaml").read_text(encoding="utf-8"))
    return raw["attachments"]["max_photos"]


@pytest.fixture(scope="module")
def served(jining_profile, tmp_path_factory):
    d = make_db("cases12b_photos", jining_profile)
    with psycopg.connect(d.conninfo) as conn:
        d.user = f"c12b-insp-{uuid.uuid4().hex[:6]}"
        d.token = add_user(conn, d.user, "监督员")
        d.cell = conn.execute("SELECT min(code) FROM grid_cells WHERE valid_to IS NULL"
                              ).fetchone()[0]
    with scratch_api(d, tmp_path_factory.mktemp("c12bp")) as base:
        yield d, base


def _report(base: str, token: str, grid: str, n: int) -> requests.Response:
    photos = [{"name": f"p{i}.png", "content_base64": base64.b64encode(_png(i)).decode()}
              for i in range(n)]
    return requests.post(base + "/cases", json={"source": "巡查上报", "category": "0501",
                                                "grid": grid, "photos": photos},
                         headers={"Authorization": f"Bearer {token}"}, timeout=120)


def _counts(d) -> tuple[int, int]:
    return (d.scalar("SELECT count(*) FROM cases"),
            d.scalar("SELECT count(*) FROM case_attachments"))


def test_http_report_over_the_photo_limit_is_400(served):
    d, base = served
    limit = _platform_limit()
    before = _counts(d)
    for n in (limit + 1, 3000):
        r = _report(base, d.token, d.cell, n)
        assert r.status_code == 400, (n, r.status_code, r.text[:300])
        text = r.json()["description"]
        assert "'photos'" in text and f"at most {limit}" in text and f"{n} photos" in text, text
    assert _counts(d) == before
    r = _report(base, d.token, d.cell, limit)
    assert r.status_code == 201, r.text[:300]
    assert _counts(d) == (before[0] + 1, before[1] + limit)


def _city_copy(folder, jining_profile, workflow: str):
    """The Jining profile in ``folder`` with its own case_workflow.yaml, ``workflow``."""
    (folder / "case_workflow.yaml").write_text(workflow, encoding="utf-8")
    raw = yaml.safe_load(jining_profile.path.read_text(encoding="utf-8"))
    for key in ("boundaries", "grid"):
        raw[key] = str((jining_profile.path.parent / raw[key]).resolve())
    raw["dictionaries"] = {"case_workflow": "case_workflow.yaml"}
    (folder / "profile.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True),
                                         encoding="utf-8")
    return folder / "profile.yaml"


@pytest.fixture(scope="module")
def city(tmp_path_factory, jining_profile):
    """The Jining profile with its own case_workflow.yaml allowing CITY_LIMIT photos."""
    folder = tmp_path_factory.mktemp("c12b_city")
    wf = (DICTIONARY_DIR / "case_workflow.yaml").read_text(encoding="utf-8")
    line = f"  max_photos: {_platform_limit()}\n"
    assert wf.count(line) == 1
    path = _city_copy(folder, jining_profile,
                      wf.replace(line, f"  max_photos: {CITY_LIMIT}\n"))
    return load_profile(path), folder


def test_cli_follows_the_city_limit(city, tmp_path):
    profile, _ = city
    d = make_db("cases12b_photos_cli", profile)
    try:
        with psycopg.connect(d.conninfo) as conn:
            add_user(conn, "c12b-cli-insp", "监督员")
            cell = conn.execute("SELECT min(code) FROM grid_cells WHERE valid_to IS NULL"
                                ).fetchone()[0]
        files = []
        for i in range(CITY_LIMIT + 1):
            f = tmp_path / f"p{i}.png"
            f.write_bytes(_png(i))
            files += ["--photo", str(f)]
        args = ["case", "report-problem", "--source", "巡查上报", "--category", "0501",
                "--grid", cell, "--user", "c12b-cli-insp", "--json"]
        p = run_cli(args + files, d.env())
        assert p.returncode != 0, p.stdout
        assert "'--photo'" in p.stderr and f"at most {CITY_LIMIT}" in p.stderr, p.stderr
        assert "Traceback" not in p.stderr
        assert d.scalar("SELECT count(*) FROM cases") == 0
        p = run_cli(args + files[:2 * CITY_LIMIT], d.env())
        assert p.returncode == 0, p.stderr
        assert len(json.loads(p.stdout)["attached"]) == CITY_LIMIT
    finally:
        from tests.conftest import drop_database, server_url

        drop_database(server_url(), d.name)


def _big_png(seed: int, size: int) -> bytes:
    """A PNG's bytes padded to ``size`` (media type told by the signature, as stored)."""
    png = _png(seed)
    return png + b"\0" * (size - len(png))


def test_two_phone_photos_fit_a_report_and_more_than_the_total_is_named(served):
    """The body's cap was one photo's size as base64: two 6 MB photos — each under
    max_bytes, two of nine — were a 413 naming neither (probe of session 19). A report's
    photos together may hold attachments.max_report_bytes (read here from the file)."""
    d, base = served
    raw = yaml.safe_load((DICTIONARY_DIR / "case_workflow.yaml").read_text(encoding="utf-8"))
    each, total = raw["attachments"]["max_bytes"], raw["attachments"]["max_report_bytes"]
    assert 2 * 6_000_000 <= total and 6_000_000 <= each

    def post(sizes):
        photos = [{"name": f"b{i}.png", "content_base64":
                   base64.b64encode(_big_png(i, n)).decode()} for i, n in enumerate(sizes)]
        return requests.post(base + "/cases", json={"source": "巡查上报", "category": "0501",
                                                    "grid": d.cell, "photos": photos},
                             headers={"Authorization": f"Bearer {d.token}"}, timeout=300)

    r = post([6_000_000, 6_000_000])
    assert r.status_code == 201, r.text[:300]
    assert len(r.json()["attached"]) == 2
    # over the total but within the body's cap (base64 and 1 MiB more): named, nothing kept
    before = _counts(d)
    n = total // each + 1
    r = post([each] * n)
    assert r.status_code in (400, 413), r.text[:300]
    assert "max_report_bytes" in r.json()["description"], r.text[:300]
    assert _counts(d) == before


def test_a_city_copy_of_before_keeps_its_larger_photos(tmp_path, jining_profile):
    """A city copy written before max_report_bytes, allowing 60 MiB photos: its reports hold
    at least one such photo (review of session 19: a fixed 40 MiB refused it); a total set
    below one photo is refused naming the setting."""
    from cim.errors import ConfigError
    from layers.cases.sources import max_report_bytes

    wf = (DICTIONARY_DIR / "case_workflow.yaml").read_text(encoding="utf-8")
    lines = [ln for ln in wf.splitlines(keepends=True) if "max_report_bytes" not in ln]
    old = "".join(lines).replace("  max_bytes: 10485760\n", "  max_bytes: 62914560\n")
    _city_copy(tmp_path, jining_profile, old)
    assert max_report_bytes(load_profile(tmp_path / "profile.yaml")) == 62914560
    (tmp_path / "case_workflow.yaml").write_text(old.replace(
        "  max_photos:", "  max_report_bytes: 1048576\n  max_photos:"), encoding="utf-8")
    from layers.cases.sources import settings

    settings.cache_clear()
    with pytest.raises(ConfigError, match="max_report_bytes"):
        max_report_bytes(load_profile(tmp_path / "profile.yaml"))
