"""The case loop (issue 14 item 4) on the session database: the state machine from
case_workflow.yaml, the audit trail, roles and units, the dispatch proposal from a
component's fields, the 12345 gazetteer and photos. The evaluation (item 5) is in
tests/test_cases_evaluation.py."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

import psycopg
import pytest

from cim.errors import InputError
from layers.cases import auth, dispatch, geocode, sources, store, workflow
from layers.cases.auth import User
from layers.cases.workflow import RoleError, TransitionError

UTC = dt.UTC
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


def people(unit: str) -> dict[str, User]:
    """One user of each role (names unique in the shared session database)."""
    s = uuid.uuid4().hex[:6]
    return {"监督员": User(f"insp-{s}", "监督员"), "受理员": User(f"acc-{s}", "受理员"),
            "派遣员": User(f"disp-{s}", "派遣员"), "处置单位": User(f"unit-{s}", "处置单位", unit),
            "核查员": User(f"ver-{s}", "核查员")}


def grids(conn: psycopg.Connection, n: int = 2) -> list[str]:
    return [r[0] for r in conn.execute("SELECT code FROM grid_cells WHERE valid_to IS NULL "
                                       "ORDER BY code LIMIT %s", (n,))]


def new_case(conn, grid: str, cat: str = "0501", at: dt.datetime | None = None,
             actor: str = "insp", **kw) -> dict:
    return store.open_case(conn, source="巡查上报", category_code=cat, actor=actor,
                           role="监督员", grid_code=grid, reported_at=at, **kw)


@pytest.fixture()
def conn(db):
    """A connection whose work is rolled back after the test."""
    with psycopg.connect(db.conninfo) as c:
        yield c
        c.rollback()


def test_case_code_from_the_one_allocator(conn):
    g = grids(conn, 1)[0]
    c = new_case(conn, g, "0101")
    district = conn.execute("SELECT district_code FROM grid_cells WHERE code = %s AND "
                            "valid_to IS NULL", (g,)).fetchone()[0]
    assert c["code"].startswith(f"{district}9301") and len(c["code"]) == 18
    assert c["district_code"] == district and c["grid_code"] == g
    reg = conn.execute("SELECT layer, source_key FROM code_registry WHERE code = %s",
                       (c["code"],)).fetchone()
    assert reg[0] == "cases" and reg[1].startswith("case:")
    assert c["state"] == "上报" and c["deadline"] is None
    other = new_case(conn, g, "0101")
    assert int(other["code"][-8:]) == int(c["code"][-8:]) + 1


def test_illegal_transition_refused_with_a_message(conn):
    c = new_case(conn, grids(conn, 1)[0])
    p = people("环卫处")
    with pytest.raises(TransitionError) as exc:
        workflow.act(conn, c["code"], "dispatch", p["派遣员"])
    msg = str(exc.value)
    assert c["code"] in msg and "上报" in msg and "register" in msg and "void" in msg
    with pytest.raises(TransitionError, match="close"):
        workflow.act(conn, c["code"], "close", p["受理员"])
    # nothing was written by the refused actions
    assert store.get_case(conn, c["code"], events=True)["events"][-1]["to_state"] == "上报"


def test_whole_loop_with_audit_trail(conn):
    t0 = dt.datetime(2001, 5, 1, 8, tzinfo=UTC)
    c = new_case(conn, grids(conn, 1)[0], "0101", at=t0, actor="巡查员甲",
                 description="井盖破损")
    p = people(c["unit"])
    h = dt.timedelta(hours=1)
    workflow.act(conn, c["code"], "register", p["受理员"], at=t0 + h)
    workflow.act(conn, c["code"], "dispatch", p["派遣员"], at=t0 + 2 * h)
    workflow.act(conn, c["code"], "handle", p["处置单位"], at=t0 + 5 * h, note="已更换井盖")
    workflow.act(conn, c["code"], "verify", p["核查员"], at=t0 + 6 * h, result="pass")
    out = workflow.act(conn, c["code"], "close", p["受理员"], at=t0 + 7 * h)
    assert out["state"] == "结案"
    trail = [(e["action"], e["from_state"], e["to_state"], e["actor"], e["role"])
             for e in out["events"]]
    assert trail == [
        ("report", None, "上报", "巡查员甲", "监督员"),
        ("register", "上报", "立案", p["受理员"].name, "受理员"),
        ("dispatch", "立案", "派遣", p["派遣员"].name, "派遣员"),
        ("handle", "派遣", "处置", p["处置单位"].name, "处置单位"),
        ("verify", "处置", "核查", p["核查员"].name, "核查员"),
        ("close", "核查", "结案", p["受理员"].name, "受理员")]
    assert [e["at"] for e in out["events"]] == [t0, t0 + h, t0 + 2 * h, t0 + 5 * h,
                                                  t0 + 6 * h, t0 + 7 * h]
    assert out["events"][3]["note"] == "已更换井盖"
    assert (out["registered_at"], out["dispatched_at"], out["handled_at"], out["verified_at"],
            out["closed_at"]) == (t0 + h, t0 + 2 * h, t0 + 5 * h, t0 + 6 * h, t0 + 7 * h)
    assert out["deadline"] == t0 + h + dt.timedelta(hours=24)  # 0101: 24 h from 立案
    with pytest.raises(TransitionError, match="final"):
        workflow.act(conn, c["code"], "return", p["受理员"], note="x")


def test_return_and_void(conn):
    g = grids(conn, 1)[0]
    c = new_case(conn, g, "0501")
    p = people(c["unit"])
    workflow.act(conn, c["code"], "register", p["受理员"])
    workflow.act(conn, c["code"], "dispatch", p["派遣员"])
    # the unit returns it (not theirs): back to 立案, dispatched_at cleared
    out = workflow.act(conn, c["code"], "return", p["处置单位"], note="非本单位职责")
    assert out["state"] == "立案" and out["dispatched_at"] is None
    assert out["events"][-1]["action"] == "return" and out["events"][-1]["note"] == "非本单位职责"
    workflow.act(conn, c["code"], "dispatch", p["派遣员"])
    workflow.act(conn, c["code"], "handle", p["处置单位"], note="清理")
    # 核查 fails: back to 派遣, the handling no longer counts
    out = workflow.act(conn, c["code"], "verify", p["监督员"], result="fail", note="未清理干净")
    assert out["state"] == "派遣" and out["handled_at"] is None
    assert out["events"][-1]["detail"]["result"] == "fail"
    # a return needs a note
    with pytest.raises(InputError, match="note"):
        workflow.act(conn, c["code"], "return", p["处置单位"])
    # void: from 上报 yes, from 派遣 no
    with pytest.raises(TransitionError, match="派遣"):
        workflow.act(conn, c["code"], "void", p["受理员"], note="重复")
    # the 受理员 sends a registered report back to 上报: no deadline until registered again
    r = new_case(conn, g, "0501")
    assert workflow.act(conn, r["code"], "register", p["受理员"])["deadline"] is not None
    out = workflow.act(conn, r["code"], "return", p["受理员"], note="请补充位置")
    assert out["state"] == "上报" and out["deadline"] is None and out["registered_at"] is None
    v = new_case(conn, g, "0501")
    out = workflow.act(conn, v["code"], "void", p["受理员"], note="重复上报")
    assert out["state"] == "作废" and out["events"][-1]["to_state"] == "作废"
    with pytest.raises(TransitionError, match="作废"):
        workflow.act(conn, v["code"], "register", p["受理员"])


def test_roles_and_units_refused(conn):
    c = new_case(conn, grids(conn, 1)[0], "0501")
    p = people(c["unit"])
    with pytest.raises(RoleError, match="受理员"):
        workflow.act(conn, c["code"], "register", p["监督员"])
    workflow.act(conn, c["code"], "register", p["受理员"])
    workflow.act(conn, c["code"], "dispatch", p["派遣员"], unit="园林绿化处")
    case = store.get_case(conn, c["code"])
    assert case["unit"] == "园林绿化处" and case["unit_basis"] == "指定"
    # 环卫处's user may not handle a case dispatched to 园林绿化处
    with pytest.raises(RoleError, match="园林绿化处"):
        workflow.act(conn, c["code"], "handle", p["处置单位"], note="done")
    with pytest.raises(InputError, match="note"):
        workflow.act(conn, c["code"], "handle", User("g", "处置单位", "园林绿化处"))
    out = workflow.act(conn, c["code"], "handle", User("g", "处置单位", "园林绿化处"), note="ok")
    assert out["state"] == "处置"


def test_time_before_last_event_refused(conn):
    t0 = dt.datetime(2001, 6, 1, 8, tzinfo=UTC)
    c = new_case(conn, grids(conn, 1)[0], at=t0)
    with pytest.raises(InputError, match="before"):
        workflow.act(conn, c["code"], "register", people("x")["受理员"],
                     at=t0 - dt.timedelta(minutes=1))


def test_sensor_alarm_case_registered_at_once(conn):
    t = dt.datetime(2001, 7, 1, 3, tzinfo=UTC)
    c = store.open_case(conn, source="传感告警", category_code="0102", actor="sensor:GAS-1",
                        role="system", grid_code=grids(conn, 1)[0], reported_at=t,
                        register=True, alarm_code="X1")
    full = store.get_case(conn, c["code"], events=True)
    assert [(e["action"], e["to_state"], e["actor"]) for e in full["events"]] == [
        ("report", "上报", "sensor:GAS-1"), ("register", "立案", "sensor:GAS-1")]
    assert full["state"] == "立案" and full["registered_at"] == t
    assert full["deadline"] == t + dt.timedelta(hours=4)  # 0102 燃气设施异常: 4 h
    assert full["alarm_code"] == "X1"


def test_dispatch_proposal_from_component_fields(conn):
    fields = {"养护": "maint_name", "主管": "dept_name", "权属": "owner_name"}

    def component(target: str) -> tuple[str, str]:
        """A sample component whose ``target`` unit differs from the other two, if any."""
        others = [f for f in fields.values() if f != target]
        return conn.execute(
            f"SELECT code, {target} FROM components WHERE valid_to IS NULL ORDER BY "
            f"({target} IS DISTINCT FROM {others[0]})::int + ({target} IS DISTINCT FROM "
            f"{others[1]})::int DESC, code LIMIT 1").fetchone()

    # categories as data: 0101 养护 first, 0201 主管 first, 0102 权属 first, 0501 default only
    for cat, basis in (("0101", "养护"), ("0201", "主管"), ("0102", "权属")):
        code, unit = component(fields[basis])
        c = store.open_case(conn, source="巡查上报", category_code=cat, actor="i",
                            role="监督员", asset_code=code)
        assert (c["unit"], c["unit_basis"]) == (unit, basis), cat
        assert c["asset_layer"] == "components"
    code, maint = component("maint_name")
    assert conn.execute("SELECT dept_name <> maint_name AND owner_name <> maint_name FROM "
                        "components WHERE code = %s AND valid_to IS NULL",
                        (code,)).fetchone()[0], "a sample component with its own 养护 unit"
    c = store.open_case(conn, source="巡查上报", category_code="0501", actor="i",
                        role="监督员", asset_code=code)
    assert (c["unit"], c["unit_basis"]) == ("环卫处", "category")
    # the case lies in the component's grid cell (as the component loader placed it)
    assert c["grid_code"] == conn.execute(
        "SELECT grid_code FROM components WHERE code = %s AND valid_to IS NULL",
        (code,)).fetchone()[0]
    # dispatch keeps the proposal when no unit is named
    p = people(maint)
    c = store.open_case(conn, source="巡查上报", category_code="0101", actor="i",
                        role="监督员", asset_code=code)
    workflow.act(conn, c["code"], "register", p["受理员"])
    out = workflow.act(conn, c["code"], "dispatch", p["派遣员"])
    assert (out["unit"], out["unit_basis"]) == (maint, "养护")
    assert out["events"][-1]["detail"]["proposed"] == maint
    with pytest.raises(InputError, match="no current feature"):
        store.open_case(conn, source="巡查上报", category_code="0101", actor="i",
                        role="监督员", asset_code="370811010199999999")


def test_hotline_address_geocoded(conn):
    geocode.clear_cache()
    acc = people("x")["受理员"]
    g = grids(conn, 3)[2]
    name = conn.execute("SELECT name FROM grid_cells WHERE code = %s AND valid_to IS NULL",
                        (g,)).fetchone()[0]
    # the cell's own name, written with spaces and full-width digits, inside an address
    spaced = " ".join(name).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    out = sources.report_problem(conn, acc, source="市民热线", category_code="0501",
                                 address=f"济宁市{spaced}东侧小区门口",
                                 contact={"reporter_name": "王女士", "phone": "13800000000"})
    assert out["grid_code"] == g and out["geocoded"] == {"name": name, "layer": "grid_cells"}
    assert out["contact"]["phone"] == "13800000000"
    assert out["source"] == "市民热线" and out["state"] == "上报"
    # a facility whose name is unique: its cell is the one holding the facility's point
    fname, fcell = conn.execute(
        "SELECT f.name, (SELECT g.code FROM grid_cells g WHERE g.valid_to IS NULL AND "
        "ST_Intersects(g.geom, f.geom) ORDER BY g.code LIMIT 1) FROM facilities f "
        "WHERE f.valid_to IS NULL AND f.name IS NOT NULL AND (SELECT count(*) FROM facilities "
        "o WHERE o.valid_to IS NULL AND o.name = f.name) = 1 AND NOT EXISTS (SELECT 1 FROM "
        "buildings b WHERE b.valid_to IS NULL AND strpos(b.name, f.name) > 0) "
        "ORDER BY length(f.name) DESC, f.code LIMIT 1").fetchone()
    out = sources.report_problem(conn, acc, source="市民热线", category_code="0501",
                                 address=f"{fname}门口有垃圾")
    assert out["geocoded"]["name"] == fname and out["grid_code"] == fcell
    with pytest.raises(InputError) as exc:
        sources.report_problem(conn, acc, source="市民热线", category_code="0501",
                               address="火星大道一号")
    assert exc.value.field == "address"
    # an inspector may not take hotline calls
    with pytest.raises(RoleError):
        sources.report_problem(conn, people("x")["监督员"], source="市民热线",
                               category_code="0501", address=f"{fname}门口")


def test_inspector_report_with_photo(conn):
    insp = people("x")["监督员"]
    x, y = conn.execute("SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) "
                        "FROM grid_cells WHERE code = %s AND valid_to IS NULL",
                        (grids(conn, 1)[0],)).fetchone()
    out = sources.report_problem(conn, insp, source="巡查上报", category_code="0501",
                                 point=(x, y), description="暴露垃圾",
                                 photos=[("现场.png", PNG)])
    assert out["grid_code"] == grids(conn, 1)[0]
    assert out["attachments"][0]["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert out["attachments"][0]["media_type"] == "image/png"
    assert out["contact"]["reporter_user"] == insp.name
    with pytest.raises(InputError) as exc:
        sources.report_problem(conn, insp, source="巡查上报", category_code="0501",
                               point=(x, y), photos=[("fake.jpg", b"not a photo at all")])
    assert exc.value.field == "--photo"
    with pytest.raises(InputError) as exc:
        sources.report_problem(conn, insp, source="巡查上报", category_code="9999",
                               point=(x, y))
    assert exc.value.field == "category"  # as a report names it (body, --category)


def test_users_and_tokens(conn):
    name = f"u-{uuid.uuid4().hex[:6]}"
    token = auth.add_user(conn, name, "处置单位", "环卫处")
    assert conn.execute("SELECT token_hash FROM ops_users WHERE name = %s",
                        (name,)).fetchone()[0] == hashlib.sha256(token.encode()).hexdigest()
    assert auth.authenticate(conn, token) == User(name, "处置单位", "环卫处")
    assert auth.authenticate(conn, token + "x") is None and auth.authenticate(conn, "") is None
    assert auth.revoke(conn, name) and not auth.revoke(conn, name)
    assert auth.authenticate(conn, token) is None
    with pytest.raises(InputError, match="unit"):
        auth.add_user(conn, f"v-{name}", "处置单位")
    with pytest.raises(InputError, match="role"):
        auth.add_user(conn, f"w-{name}", "市长")


def test_cli_loop_users_and_report(db, tmp_path):
    """`cim ops user add/revoke` and `cim case …` as the owner: a token shown once, acting by
    token or by name, the refused action's message and exit code, the JSON views, the
    report file."""
    import json

    from tests.conftest import run_cli

    s = uuid.uuid4().hex[:6]
    env = db.env()
    token = run_cli(["ops", "user", "add", f"cli-insp-{s}", "--role", "监督员"], env,
                    check=True).stdout.strip()
    assert len(token) >= 40
    for role in ("受理员", "派遣员"):
        run_cli(["ops", "user", "add", f"cli-{role}-{s}", "--role", role], env, check=True)
    photo = tmp_path / "p.png"
    photo.write_bytes(PNG)
    g = db.scalar("SELECT min(code) FROM grid_cells WHERE valid_to IS NULL")
    out = json.loads(run_cli(["case", "report-problem", "--source", "巡查上报", "--category",
                              "0501", "--grid", g, "--photo", str(photo), "--as", token,
                              "--json"], env, check=True).stdout)
    code = out["code"]
    assert out["state"] == "上报" and "contact" not in out
    bad = run_cli(["case", "dispatch", code, "--user", f"cli-派遣员-{s}"], env)
    assert bad.returncode == 6 and code in bad.stderr and "register" in bad.stderr
    wrong = run_cli(["case", "register", code, "--user", f"cli-派遣员-{s}"], env)
    assert wrong.returncode == 7 and "受理员" in wrong.stderr
    # the token from the environment (kept off the command line): the trail names its user
    acc = run_cli(["ops", "user", "add", f"cli-acc2-{s}", "--role", "受理员"], env,
                  check=True).stdout.strip().splitlines()[-1]
    run_cli(["case", "register", code], {**env, "CIM_OPS_TOKEN": acc}, check=True)
    shown = json.loads(run_cli(["case", "show", code, "--json"], env, check=True).stdout)
    assert shown["events"][-1]["actor"] == f"cli-acc2-{s}"
    run_cli(["case", "return", code, "--user", f"cli-受理员-{s}", "--note", "x"], env,
            check=True)
    run_cli(["case", "register", code, "--user", f"cli-受理员-{s}"], env, check=True)
    shown = json.loads(run_cli(["case", "show", code, "--json"], env, check=True).stdout)
    assert [e["action"] for e in shown["events"]] == ["report", "register", "return",
                                                      "register"]
    assert shown["attachments"][0]["sha256"] == hashlib.sha256(PNG).hexdigest()
    listed = json.loads(run_cli(["case", "list", "--state", "立案", "--grid", g, "--json"],
                                env, check=True).stdout)
    assert code in [c["code"] for c in listed]
    ev = json.loads(run_cli(["case", "evaluate", "--from", "2000-01-01", "--to", "2100-01-01",
                             "--by", "grid", "--json"], env, check=True).stdout)
    assert g in [r["grid"] for r in ev["rows"]]
    html_out = tmp_path / "cases.html"
    run_cli(["case", "report", "--from", "2000-01-01", "--to", "2100-01-01", "--out",
             str(html_out)], env, check=True)
    assert "按期处置率" in html_out.read_text(encoding="utf-8")
    run_cli(["ops", "user", "revoke", f"cli-insp-{s}"], env, check=True)
    users = {u["name"]: u for u in json.loads(run_cli(["ops", "user", "list", "--json"], env,
                                                      check=True).stdout)}
    assert users[f"cli-insp-{s}"]["revoked_at"] and users[f"cli-受理员-{s}"]["role"] == "受理员"
    assert "token_hash" not in users[f"cli-insp-{s}"]
    gone = run_cli(["case", "report-problem", "--source", "巡查上报", "--category", "0501",
                    "--grid", g, "--as", token], env)
    assert gone.returncode == 3 and "token" in gone.stderr


def test_bad_workflow_and_categories_named(tmp_path):
    from cim.errors import ConfigError
    from layers.cases.categories import load_categories

    wf = tmp_path / "wf.yaml"
    wf.write_text("states: [上报, 立案]\nactions:\n  register:\n    transitions:\n"
                  "      - {from: [上报], to: 立案, roles: [市长]}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="市长") as exc:
        workflow.load_workflow(wf)
    assert exc.value.field == "actions.register.transitions[0]"
    wf.write_text("states: [上报]\nactions:\n  register:\n    transitions:\n"
                  "      - {from: [上报], to: 已办, roles: [受理员]}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="已办"):
        workflow.load_workflow(wf)
    # a state's time column goes into an UPDATE: only the time columns of cases are accepted
    wf.write_text("states: [上报]\ntimestamps: {上报: 'reported_at = now(), state'}\n"
                  "deadline_from: 上报\nactions:\n  register:\n    transitions:\n"
                  "      - {from: [上报], to: 上报, roles: [受理员]}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="time column") as exc:
        workflow.load_workflow(wf)
    assert exc.value.field == "timestamps.上报"
    # the states the code relies on are data too: where a report opens, who waits
    wf.write_text("states: [上报, 立案]\ntimestamps: {上报: reported_at, 立案: registered_at}\n"
                  "deadline_from: 立案\ninitial: 新建\nactions:\n  register:\n"
                  "    transitions:\n      - {from: [上报], to: 立案, roles: [受理员]}\n",
                  encoding="utf-8")
    with pytest.raises(ConfigError, match="新建") as exc:
        workflow.load_workflow(wf)
    assert exc.value.field == "initial"
    wf.write_text(wf.read_text(encoding="utf-8").replace("新建", "上报")
                  + "waiting_for_handling: [立案]\n", encoding="utf-8")
    loaded = workflow.load_workflow(wf)
    assert (loaded.initial, loaded.registered, loaded.waiting) == ("上报", "立案", ("立案",))
    cats = tmp_path / "cats.csv"
    cats.write_text("code,kind,major_code,major_name,name,time_limit_h,default_unit,"
                    "unit_fields,note\n0101,部件,01,公用设施,井盖,-1,市政,养护,\n",
                    encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_categories(cats)
    assert (exc.value.row, exc.value.field) == (2, "time_limit_h")
    cats.write_text("code,kind,major_code,major_name,name,time_limit_h,default_unit,"
                    "unit_fields,note\n0101,部件,01,公用设施,井盖,4,市政,物业,\n",
                    encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_categories(cats)
    assert exc.value.field == "unit_fields"


def test_concurrent_actions_on_one_case(db):
    """Two people act on the same case at once: the case row is locked, the second waits and
    then finds the case moved on (refused), so one transition is recorded, not two."""
    import threading

    with psycopg.connect(db.conninfo) as c:
        code = new_case(c, grids(c, 1)[0])["code"]
    p = people("环卫处")
    first = psycopg.connect(db.conninfo)
    try:
        workflow.act(first, code, "register", p["受理员"])  # holds the row lock
        outcome: dict[str, object] = {}

        def second():
            with psycopg.connect(db.conninfo) as c2:
                try:
                    workflow.act(c2, code, "register", p["受理员"])
                    outcome["r"] = "done"
                except TransitionError as exc:
                    outcome["r"] = exc

        t = threading.Thread(target=second)
        t.start()
        t.join(1.0)
        assert t.is_alive(), "the second action waits for the first one's lock"
        first.commit()
        t.join(10)
    finally:
        first.close()
    assert isinstance(outcome["r"], TransitionError) and "立案" in str(outcome["r"])
    assert db.scalar("SELECT count(*) FROM case_events e JOIN cases c ON c.id = e.case_id "
                     "WHERE c.code = %s AND e.action = 'register'", (code,)) == 1


def test_return_does_not_restart_the_clock(conn):
    """0501 has 4 h (case_categories.csv). 立案 at +1 h → deadline +5 h. The unit returns
    the case to 立案 at +3 h: 立案 time and deadline stay (+1 h, +5 h), so at +6 h it is
    overdue; a failed 核查 back to 派遣 keeps the re-dispatch time."""
    t0 = dt.datetime(2001, 8, 1, 8, tzinfo=UTC)
    h = dt.timedelta(hours=1)
    c = new_case(conn, grids(conn, 1)[0], "0501", at=t0)
    p = people(c["unit"])
    workflow.act(conn, c["code"], "register", p["受理员"], at=t0 + h)
    workflow.act(conn, c["code"], "dispatch", p["派遣员"], at=t0 + 2 * h)
    out = workflow.act(conn, c["code"], "return", p["处置单位"], at=t0 + 3 * h, note="非本单位")
    assert (out["state"], out["registered_at"], out["deadline"], out["dispatched_at"]) == \
        ("立案", t0 + h, t0 + 5 * h, None)
    out = workflow.act(conn, c["code"], "dispatch", p["派遣员"], at=t0 + 4 * h)
    assert (out["dispatched_at"], out["deadline"]) == (t0 + 4 * h, t0 + 5 * h)
    assert c["code"] in [r["code"] for r in dispatch.overdue(conn, t0 + 6 * h)]
    workflow.act(conn, c["code"], "handle", p["处置单位"], at=t0 + 4.5 * h, note="ok")
    out = workflow.act(conn, c["code"], "verify", p["核查员"], at=t0 + 5.5 * h,
                       result="fail")
    assert (out["state"], out["dispatched_at"], out["handled_at"], out["deadline"]) == \
        ("派遣", t0 + 4 * h, None, t0 + 5 * h)
    # sent back to 上报 it loses its 立案; registered again it gets a new deadline
    r = new_case(conn, grids(conn, 1)[0], "0501", at=t0)
    workflow.act(conn, r["code"], "register", p["受理员"], at=t0 + h)
    workflow.act(conn, r["code"], "return", p["受理员"], at=t0 + 2 * h, note="补充")
    out = workflow.act(conn, r["code"], "register", p["受理员"], at=t0 + 3 * h)
    assert (out["registered_at"], out["deadline"]) == (t0 + 3 * h, t0 + 7 * h)
