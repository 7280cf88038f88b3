"""Per-class parameters of the pipe survey, its table columns and its delivered file names.

One table of every class's offset from the street centreline, the streets it runs along and
its burial depth, so the network, the writers and the verification agree on them.
"""

# class letters -> survey class (sheet / file name), offset from the street centreline (m),
# which of the survey area's N–S (u) and E–W (v) streets it runs along, burial depth
PIPE_CLASSES = {
    "JS": {"name": "给水", "offset": 6.0, "u": (0, 1, 2, 3, 4), "v": (0, 1, 2, 3, 4, 5),
           "depth": (1.25, 0.12), "map": "J", "owner": "太白湖水务有限公司（示例）"},
    "YS": {"name": "雨水", "offset": -3.0, "u": (0, 1, 2, 3, 4), "v": (0, 1, 2, 3, 4, 5),
           "d0": 1.5, "map": "Y", "owner": "太白湖新区排水管理处（示例）"},
    "WS": {"name": "污水", "offset": 2.0, "u": (0, 1, 2, 3), "v": (0, 1, 2, 3, 4),
           "d0": 2.0, "map": "W", "owner": "太白湖新区排水管理处（示例）"},
    "RQ": {"name": "燃气", "offset": 9.0, "u": (1, 2, 3, 4), "v": (1, 2, 3, 4, 5),
           "depth": (1.05, 0.08), "map": "R", "owner": "太白湖燃气有限公司（示例）"},
    "RL": {"name": "热力", "offset": -7.0, "u": (1, 2, 3), "v": (2, 3, 4, 5),
           "depth": (1.55, 0.12), "map": "L", "owner": "太白湖热力有限公司（示例）"},
    "DL": {"name": "电力", "offset": 12.0, "u": (0, 1, 2, 3, 4), "v": (0, 2, 4, 5),
           "depth": (0.85, 0.08), "map": "D", "owner": "太白湖供电公司（示例）"},
    "TX": {"name": "通信", "offset": -11.0, "u": (0, 2, 4), "v": (0, 1, 2, 3, 4, 5),
           "depth": (0.75, 0.08), "map": "T", "owner": "太白湖通信管道公司（示例）"},
}
PIPE_U_RANGE = (-400.0, 1200.0)  # survey area in street-grid coordinates (m from the centre)
PIPE_V_RANGE = (-900.0, 950.0)
PIPE_SPACING = 45.0  # survey points at most this far apart along a pipe
DRAIN_FALL = 0.0017  # invert fall of storm and foul sewers per metre of f = u + 0.8 v
GROUND_FALL = 0.0006  # ground fall per metre of f
ROADS_U = ("湖滨东路", "明德路", "崇文路", "同济路", "致远路")  # fictitious street names
ROADS_V = ("荷风街", "怡和街", "兴学街", "仁和街", "景明街", "惠民街")
POINT_COLUMNS = ["图上点号", "物探点号", "特征", "附属物", "X", "Y", "地面高程", "道路名称", "备注"]
SEGMENT_COLUMNS = ["起始点号", "终止点号", "起点埋深", "终点埋深", "起点高程", "终点高程",
                   "埋设方式", "材质", "管径", "压力", "电压", "电缆条数", "权属单位", "建设年代",
                   "道路名称", "备注"]
PIPE_WORKBOOK = "管线普查成果表.xlsx"  # 给水, 雨水, 污水, 燃气 (one sheet pair per class)
PIPE_CSV_GBK = ("热力_管线点成果表.csv", "热力_管线段成果表.csv")  # GBK, class from the file name
PIPE_CSV_UTF8 = ("电力通信_管线点成果表.csv", "电力通信_管线段成果表.csv")  # UTF-8 BOM + 管线类别
