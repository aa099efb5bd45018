"""The shipped Kibana saved objects: equal to the builder, well formed, every field in the index templates."""

import json
import re

from trtlens.dashboard.kibana import DASHBOARD_ID, DATA_VIEWS, saved_objects, shipped_ndjson, to_ndjson
from trtlens.settings import IndexSettings
from trtlens.sinks.templates import MAPPINGS

def template_fields(family: str) -> set[str]:
    def walk(props, prefix=""):
        for name, spec in props.items():
            yield prefix + name
            if "properties" in spec:
                yield from walk(spec["properties"], prefix + name + ".")
    return set(walk(MAPPINGS[family]))


def objects():
    return [json.loads(line) for line in shipped_ndjson().splitlines() if line.strip()]


def test_shipped_ndjson_is_what_the_builder_makes():
    assert shipped_ndjson() == to_ndjson(saved_objects(IndexSettings())), \
        "regenerate: trtlens kibana export > infra/dashboard/kibana/trtlens.ndjson"


def test_structure_ids_and_references():
    objs = objects()
    ids = [(o["type"], o["id"]) for o in objs]
    assert len(ids) == len(set(ids))
    for o in objs:
        assert set(o) >= {"id", "type", "attributes", "references"} and o["attributes"]["title"]
    views = {o["id"]: o for o in objs if o["type"] == "index-pattern"}
    assert {v["attributes"]["title"] for v in views.values()} == {f"trtlens-{f}-*" for f in DATA_VIEWS}
    for v in views.values():
        fam = v["attributes"]["title"].removeprefix("trtlens-").removesuffix("-*")
        assert v["attributes"]["timeFieldName"] in template_fields(fam)
    vis = {o["id"]: o for o in objs if o["type"] == "visualization"}
    dash = next(o for o in objs if o["type"] == "dashboard")
    assert dash["id"] == DASHBOARD_ID
    panels = json.loads(dash["attributes"]["panelsJSON"])
    refs = {r["name"]: r for r in dash["references"]}
    assert len(panels) == len(vis) and {p["panelRefName"] for p in panels} == set(refs)
    assert {r["id"] for r in refs.values()} == set(vis) and all(r["type"] == "visualization" for r in refs.values())
    # the panels the dashboard asks for
    titles = " ".join(v["attributes"]["title"] for v in vis.values()).lower()
    for needle in ("qps", "heatmap", "p99", "error rate", "cold-start", "first-inference", "gpu memory", "alerts",
                   "build quality", "layer"):
        assert needle in titles, needle


def _fields_of_vis(state):
    """(family pattern, field) pairs a TSVB or Vega visualization reads."""
    params = state["params"]
    if state["type"] == "metrics":
        pattern = params["index_pattern"]
        yield pattern, params["time_field"]
        for s in params["series"]:
            if s.get("terms_field"):
                yield pattern, s["terms_field"]
            for m in s["metrics"]:
                if m.get("field") and m["type"] != "calculation":
                    yield pattern, m["field"]
        for f in re.findall(r"(\w[\w.]*)\s*:", params["filter"]["query"]):
            yield pattern, f
    elif state["type"] == "vega":
        spec = json.loads(params["spec"])
        url = spec["data"]["url"]
        yield url["index"], url["%timefield%"]
        for f in re.findall(r'"field": "([^"]+)"', json.dumps(url["body"])):
            yield url["index"], f
        for k in re.findall(r'"term": \{"([^"]+)"', json.dumps(url["body"])):
            yield url["index"], k
    else:
        raise AssertionError(f"unexpected visualization type {state['type']}")


def test_every_field_referenced_exists_in_the_index_templates():
    checked = 0
    for o in objects():
        if o["type"] != "visualization":
            continue
        state = json.loads(o["attributes"]["visState"])
        for pattern, field in _fields_of_vis(state):
            fam = pattern.removeprefix("trtlens-").removesuffix("-*")
            assert field in template_fields(fam), f"{o['id']}: {field} is not mapped in trtlens-{fam}-*"
            checked += 1
    assert checked > 20


def test_tsvb_calculations_name_metrics_of_their_series():
    for o in objects():
        if o["type"] != "visualization":
            continue
        state = json.loads(o["attributes"]["visState"])
        if state["type"] != "metrics":
            continue
        for s in state["params"]["series"]:
            ids = {m["id"] for m in s["metrics"]}
            for m in s["metrics"]:
                for var in m.get("variables", ()):
                    assert var["field"] in ids
