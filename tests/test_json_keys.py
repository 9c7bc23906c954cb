"""The same keys for the same things in every command's JSON (issue 16, part 4): ``model``
for the model's name, ``file`` for the spec file, ``citation``, and a type's number of
layers as ``num_layers``; a sweep point's metrics are profile's totals under the same keys."""
from __future__ import annotations

import json

from conftest import SPECS

MNV1 = SPECS / "mobilenet_v1.yaml"


def _json(cli, *argv):
    r = cli(*argv)
    assert r.code == 0, r
    return json.loads(r.out)


def test_model_file_and_citation_keys_agree(cli):
    prof = _json(cli, "profile", MNV1, "-f", "json")
    sweep = _json(cli, "sweep", MNV1, "--grid", "width=1.0,0.5", "-f", "json")
    expl = _json(cli, "explain", MNV1, "-c", "thop", "-f", "json")
    zoo = _json(cli, "zoo", "-f", "json")
    for doc in (prof, sweep, expl):
        assert doc["model"] == "mobilenet_v1"
    assert "spec" not in sweep and sweep["file"] == prof["file"]
    [entry] = [s for s in zoo["specs"] if s["name"] == "mobilenet_v1"]
    assert entry["model"] == "mobilenet_v1" and entry["citation"] == prof["citation"]
    assert "source" not in entry


def test_sweep_metrics_are_profile_totals(cli):
    prof = _json(cli, "profile", MNV1, "-f", "json")
    sweep = _json(cli, "sweep", MNV1, "--grid", "width=1.0", "-f", "json")
    assert "conventions" not in sweep          # profile's "conventions" are counting conventions
    metrics = set(sweep["metrics"])
    assert metrics == {"mult_adds", "params", "weights", "activations", "flops_fvcore",
                       "flops_full"}
    [point] = sweep["points"]
    assert {m: point[m] for m in metrics} == {m: prof["totals"][m] for m in metrics}
    assert point["mult_adds"] == 568_740_352           # MobileNet's Table 1: 569 M


def test_a_types_layer_count_is_num_layers(cli):
    prof = _json(cli, "profile", MNV1, "-f", "json")
    expl = _json(cli, "explain", MNV1, "-c", "thop", "-f", "json")
    n = len(prof["layers"])
    assert sum(r["num_layers"] for r in prof["by_type"]) == n
    assert sum(r["num_layers"] for r in expl["by_type"]) == n
    assert all("layers" not in r for r in expl["by_type"])
    # 13 depthwise layers (MobileNet's Table 1)
    assert next(r for r in prof["by_type"] if r["type"] == "Conv DW 3x3")["num_layers"] == 13
