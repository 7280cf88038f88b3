"""The OpenAPI document the platform serves is self-contained (no $ref to a schema host) and
valid OpenAPI 3.0, so it works on an intranet and passes the OGC API definition test."""

from __future__ import annotations

import pytest
import yaml

from cim.db.engine import drop_database
from services.openapi import SCHEMAS, BundleError, bundle_openapi, external_refs
from tests.conftest import make_db, server_url


@pytest.fixture(scope="module")
def generated(jining_profile, tmp_path_factory) -> dict:
    """pygeoapi's own document for the platform's configuration (every layer), and the one
    write_config writes beside it."""
    from pygeoapi.openapi import generate_openapi_document

    from services.serve import write_config

    d = make_db("oas", jining_profile)
    try:
        cfg, oas = write_config(d.url, jining_profile, "127.0.0.1", 5999,
                                tmp_path_factory.mktemp("oas"))
        raw = yaml.safe_load(generate_openapi_document(cfg, "yaml"))
        raw["_written"] = yaml.safe_load(oas.read_text(encoding="utf-8"))
        return raw
    finally:
        drop_database(server_url(), d.name)


def _resolve(doc: dict, ref: str):
    node = doc
    for part in ref.lstrip("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_no_external_refs_and_valid(generated):
    generated = dict(generated)
    written = generated.pop("_written")
    assert external_refs(written) == []  # the document the server reads is the bundled one
    assert any(r.startswith("https://schemas.opengis.net/") for r in external_refs(generated))
    doc = bundle_openapi(generated)
    assert external_refs(doc) == []
    assert "http" not in repr([r for r in external_refs(doc)])
    from openapi_spec_validator import validate

    validate(doc)  # resolves every local $ref; would need the network for a remote one


def test_inlined_components_are_the_ogc_ones(generated):
    generated = {k: v for k, v in generated.items() if k != "_written"}
    doc = bundle_openapi(generated)
    vendored = yaml.safe_load((SCHEMAS / "ogcapi/features/part1/1.0/openapi/"
                               "ogcapi-features-1.yaml").read_text(encoding="utf-8"))
    items = doc["paths"]["/collections/buildings/items"]["get"]
    ref400 = items["responses"]["400"]["$ref"]
    assert _resolve(doc, ref400)["description"] == \
        vendored["components"]["responses"]["InvalidParameter"]["description"]
    features = _resolve(doc, items["responses"]["200"]["$ref"])
    schema = features["content"]["application/geo+json"]["schema"]
    assert _resolve(doc, schema["$ref"])["required"] == ["type", "features"]
    # the features and the processes NotFound responses differ and both are kept
    not_found = {k for k in doc["components"]["responses"] if k.startswith("NotFound")}
    assert len(not_found) == 2


def test_generated_document_unchanged(generated):
    generated = {k: v for k, v in generated.items() if k != "_written"}
    before = repr(generated)
    bundle_openapi(generated)
    assert repr(generated) == before


def test_unknown_external_ref_names_it():
    doc = {"openapi": "3.0.2", "info": {"title": "t", "version": "1"}, "paths": {
        "/x": {"get": {"responses": {"200": {
            "$ref": "https://example.org/api.yaml#/components/responses/X"}}}}}}
    with pytest.raises(BundleError, match="https://example.org/api.yaml"):
        bundle_openapi(doc)
    doc["paths"]["/x"]["get"]["responses"]["200"]["$ref"] = \
        "https://schemas.opengis.net/ogcapi/features/part1/1.0/openapi/" \
        "ogcapi-features-1.yaml#/components/responses/Nope"
    with pytest.raises(BundleError, match="no such component"):
        bundle_openapi(doc)
    doc["paths"]["/x"]["get"]["responses"]["200"]["$ref"] = \
        "https://schemas.opengis.net/../../../etc/passwd"
    with pytest.raises(BundleError, match="no vendored copy"):
        bundle_openapi(doc)
