"""The project README (data_samples/projects/README.md) names what a project is refused for
and the rules file's keys an applicant's result hangs on: the values a city may choose for
``green_ratio.over_underground`` and the storey height the refusals are measured by."""

from __future__ import annotations

from cim.config import PROJECT_ROOT
from layers.approval.config import GREEN_OVER_UNDERGROUND

README = PROJECT_ROOT / "data_samples" / "projects" / "README.md"


def test_the_project_readme_names_the_refusals_and_green_over_underground():
    text = README.read_text(encoding="utf-8")
    assert "green_ratio.over_underground" in text
    assert all(f"`{v}`" in text for v in GREEN_OVER_UNDERGROUND)
    assert "min_storey_height_m" in text  # the height below storeys × it is refused
    assert "计容建筑面积) of 0" in text  # counted area 0 above ground is refused
    assert "--encoding GBK" in text
