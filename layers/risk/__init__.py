"""The risk list (城市治理风险清单, issue 13): risk points generated from the layers by rules
(``risk_rules.yaml``) or added by hand, coded by the one allocator, graded by a likelihood ×
consequence matrix (``risk_matrix.yaml``) into 重大/较大/一般/低 = 红/橙/黄/蓝, one control measure
per point, each assessment recorded (``risk_assessments``)."""
