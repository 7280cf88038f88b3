"""The building survey's attribute schema and the fictitious names its buildings carry.

Shared by the sample survey (``buildings``) and the large benchmark sets
(``large_buildings``), so both write the same fields with the same vocabulary.
"""

BUILDING_USES = ("住宅", "商业", "办公", "工业", "教育", "医疗", "仓储", "商住混合", "其他")
STRUCTURES = ("钢混", "砖混", "钢结构", "砖木", "其他")

# Field name -> kind ("str", "int", "float"); order is the on-disk order.
BUILDING_FIELDS = {
    "编号": "str",
    "建筑名称": "str",
    "建筑用途": "str",
    "结构": "str",
    "地上层数": "int",
    "地下层数": "int",
    "建筑高度": "float",
    "建成年代": "int",
}


# Fictitious names used for the survey attributes (any resemblance is coincidental).
ESTATES_NEW = (
    "太白湖小区", "湖畔花园", "荷花苑", "康桥华府", "翰林苑", "圣贤家园", "东方名苑",
    "明珠花园", "锦绣华城", "北湖嘉园", "湖景湾", "蓝湖国际", "运河新城", "书香门第",
    "杏坛花园", "御湖山庄",
)
ESTATES_OLD = (
    "洸河新村", "济安小区", "建设路宿舍", "化肥厂家属院", "红星新村", "电业局宿舍",
    "粮食局家属院", "南池小区", "古槐新村", "供销社宿舍",
)
VILLAGES = ("王庄村", "李营村", "南张村", "刘庄村", "后营村", "周庄村", "许庄村", "陈庄村",
            "石佛村", "马营村")
SCHOOLS = ("济宁市第一中学", "太白湖新区实验小学", "济宁市第十五中学", "任城区第二实验小学",
           "微山县第二中学", "济宁学院附属中学")
HOSPITALS = ("济宁市太白湖医院", "任城区人民医院", "济宁市中医院东院区")
PLAZAS = ("太白湖商业中心", "湖东商业街", "圣地商业广场", "运河城购物中心", "荷花路商业街")
OFFICES = ("太白湖新区政务服务中心", "济宁高新科技大厦", "太白湖金融中心", "济宁市民中心",
           "创业大厦", "太白湖新区管委会", "太白湖科技园")
COMPANIES = ("济宁鲁科机械有限公司", "济宁华力纺织有限公司", "济宁金泰食品有限公司",
             "济宁恒瑞建材有限公司", "济宁宏达包装有限公司", "济宁运通汽车配件有限公司")
LOGISTICS = ("太白湖物流园", "鲁南商贸物流园", "济宁南站货运中心")
