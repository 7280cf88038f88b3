"""A city that adds a building use (11 养老) to its building_use.csv and colours it in its own
styles.yaml gets its maps: the platform's styles file, read only for the layers the city's
file lacks, checked the platform's buildings style against the city's dictionary ("no colour
for categories 11", in the platform's file the city cannot edit) and every map command failed,
/styles/onemap and /map/tree.json answering 500."""

from __future__ import annotations

from pathlib import Path

import yaml

from cim.profile import DICTIONARY_DIR, load_profile

SAMPLE = Path(__file__).resolve().parent.parent / "data_samples" / "jining"


def _city(tmp_path: Path, drop_layer: str | None = None) -> Path:
    uses = tmp_path / "building_use.csv"
    uses.write_text((DICTIONARY_DIR / "building_use.csv").read_text(encoding="utf-8").rstrip()
                    + "\n11,养老,Elderly care,养老院|敬老院,yes\n", encoding="utf-8")
    styles = yaml.safe_load((DICTIONARY_DIR / "styles.yaml").read_text(encoding="utf-8"))
    styles["layers"]["buildings"].setdefault("colors", {})["11"] = "0,200,200"
    if drop_layer:  # a city file written before the layer existed
        del styles["layers"][drop_layer]
        for g in styles["tree"]:
            if drop_layer in (g.get("layers") or []):
                g["layers"].remove(drop_layer)
    (tmp_path / "styles.yaml").write_text(yaml.safe_dump(styles, allow_unicode=True),
                                          encoding="utf-8")
    text = (SAMPLE / "profile.yaml").read_text(encoding="utf-8")
    text = text.replace("boundaries: boundaries.gpkg", f"boundaries: {SAMPLE / 'boundaries.gpkg'}")
    text = text.replace("grid: grid_cells.gpkg", f"grid: {SAMPLE / 'grid_cells.gpkg'}")
    text = text.replace("dictionaries: {}", f"dictionaries: {{building_use: '{uses}', "
                                            f"styles: '{tmp_path / 'styles.yaml'}'}}")
    p = tmp_path / "profile.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_a_city_use_coloured_in_the_citys_styles_is_on_the_map(tmp_path):
    from layers.styles import load_styles, maplibre_style

    profile = load_profile(_city(tmp_path))
    st = load_styles(profile).layers["buildings"]
    assert ("11", "养老", (0, 200, 200)) in [(c.value, c.label, (c.color.r, c.color.g, c.color.b))
                                            for c in st.categories]
    style = maplibre_style("http://h:1/", profile)
    assert any(sl.get("source-layer") == "buildings" for sl in style["layers"])


def test_a_layer_the_citys_file_lacks_still_gets_the_platforms_style(tmp_path):
    from layers.styles import load_styles

    profile = load_profile(_city(tmp_path, drop_layer="roads"))
    styles = load_styles(profile)
    assert styles.layers["roads"].title == "道路"  # the platform's, not a default
    assert any("roads" in g.layers for g in styles.tree)
