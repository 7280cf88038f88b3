"""Survey attributes of one building (name, use, structure, floors, year) by building kind.

Kept apart from the geometry so the attribute rules (a school's teaching blocks share a year,
village sheds have no name …) can be read on their own.
"""

from __future__ import annotations

_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # block letters of 商业/办公 buildings (no I, O)


def building_attributes(rng, kind, ctx):
    """(name, use, structure, floors_above, floors_below, year) for one building."""
    ri = lambda a, b: int(rng.integers(a, b + 1))  # noqa: E731
    ch = lambda seq, p=None: seq[int(rng.choice(len(seq), p=p))]  # noqa: E731
    ctx["n"] = ctx.get("n", 0) + 1
    n = ctx["n"]
    place = ctx.get("place", "")
    if kind == "res_hi":
        fl = ch([11, 17, 18, 24, 26, 33], [0.25, 0.15, 0.25, 0.1, 0.15, 0.1])
        return f"{place}{n}号楼", "住宅", "钢混", fl, ri(1, 2), ri(2006, 2024)
    if kind == "res_old":
        fl = ch([4, 5, 6, 7], [0.1, 0.25, 0.55, 0.1])
        st = ch(["砖混", "钢混"], [0.85, 0.15])
        return f"{place}{n}号楼", "住宅", st, fl, ch([0, 1], [0.8, 0.2]), ri(1985, 2005)
    if kind == "mixed":
        if rng.random() < 0.7:
            return f"{place}{n}号楼", "商住混合", "钢混", ri(12, 30), ri(1, 2), ri(2008, 2024)
        return f"{place}{n}号楼", "商业", "钢混", ri(2, 4), ri(0, 1), ri(2008, 2024)
    if kind == "com":
        st = ch(["钢混", "钢结构"], [0.75, 0.25])
        return f"{place}{_LETTERS[(n - 1) % len(_LETTERS)]}座", "商业", st, ri(2, 6), ri(0, 2), ri(2000, 2024)
    if kind == "office":
        return f"{place}{_LETTERS[(n - 1) % len(_LETTERS)]}座", "办公", "钢混", ri(6, 26), ri(1, 3), ri(2005, 2024)
    if kind == "house":
        st = ch(["砖混", "砖木", "其他"], [0.6, 0.32, 0.08])
        fl = ch([1, 2, 3], [0.45, 0.4, 0.15])
        return f"{place}{n}号", "住宅", st, fl, 0, ri(1985, 2020)
    if kind == "shop":
        st = ch(["砖混", "砖木"], [0.8, 0.2])
        use = ch(["商业", "商住混合"], [0.6, 0.4])
        return f"{place}沿街商铺{n}号", use, st, ch([1, 2, 3], [0.3, 0.5, 0.2]), 0, ri(1990, 2022)
    if kind == "shed":
        st = ch(["砖木", "其他", "钢结构"], [0.5, 0.3, 0.2])
        return "", "其他", st, 1, 0, ri(1985, 2024)
    if kind == "guard":
        return f"{place}门卫室", "其他", "砖混", 1, 0, ri(1995, 2020)
    if kind == "boiler":
        return f"{place}锅炉房", "其他", "砖混", 1, 0, ri(1990, 2015)
    if kind.startswith("sch_"):
        y = ctx.setdefault("year", ri(1995, 2018))
        if kind == "sch_teach":
            ctx["teach"] = ctx.get("teach", 0) + 1
            return f"{place}教学楼{'ABCD'[ctx['teach'] - 1]}", "教育", "钢混", ri(4, 5), 0, y
        if kind == "sch_lab":
            return f"{place}实验楼", "教育", "钢混", 4, 0, y + ri(0, 5)
        if kind == "sch_admin":
            return f"{place}综合楼", "教育", "钢混", 5, ri(0, 1), y
        if kind == "sch_dorm":
            ctx["dorm"] = ctx.get("dorm", 0) + 1
            return f"{place}学生宿舍{ctx['dorm']}号楼", "教育", "钢混", 6, 0, y + ri(0, 6)
        if kind == "sch_canteen":
            return f"{place}食堂", "教育", "钢混", 2, 0, y + ri(0, 4)
        if kind == "sch_gym":
            return f"{place}体育馆", "教育", "钢结构", ri(1, 2), 0, min(2024, y + ri(2, 8))
    if kind.startswith("hos_"):
        y = ctx.setdefault("year", ri(1998, 2016))
        table = {
            "hos_out": ("门诊楼", 5, 1),
            "hos_in": ("住院楼", ri(12, 18), 2),
            "hos_tech": ("医技楼", 6, 1),
            "hos_er": ("急诊楼", 3, 0),
            "hos_admin": ("行政楼", 5, 0),
            "hos_ward": ("康复楼", 4, 0),
        }
        label, fl, ub = table[kind]
        if kind == "hos_in":
            ctx["ward"] = ctx.get("ward", 0) + 1
            label = f"{label}{ctx['ward']}号"
        return f"{place}{label}", "医疗", "钢混", fl, ub, min(2024, y + ri(0, 8))
    if kind == "ind_shed":
        ctx["shed"] = ctx.get("shed", 0) + 1
        return f"{place}{ctx['shed']}号厂房", "工业", ch(["钢结构", "钢混"], [0.8, 0.2]), ri(1, 2), 0, ri(1998, 2022)
    if kind == "ind_store":
        ctx["store"] = ctx.get("store", 0) + 1
        return f"{place}{ctx['store']}号仓库", "仓储", ch(["钢结构", "砖混"], [0.7, 0.3]), 1, 0, ri(1998, 2022)
    if kind == "ind_office":
        return f"{place}办公楼", "办公", ch(["钢混", "砖混"], [0.7, 0.3]), ri(3, 5), 0, ri(1998, 2020)
    if kind == "wh":
        ctx["store"] = ctx.get("store", 0) + 1
        return f"{place}{ctx['store']}号仓库", "仓储", "钢结构", ri(1, 2), 0, ri(2005, 2023)
    raise ValueError(kind)


def building_height(rng, floors):
    """Height in metres: about 3.0–3.3 m a floor plus noise (σ 0.25 m), 0.1 m resolution."""
    return round(floors * rng.uniform(3.0, 3.3) + rng.normal(0.0, 0.25), 1)
