"""--convention and --batch on every output (profile per layer, --by type, JSON, CSV, markdown;
check), `costmodel explain`, NoRule, and `verify --peers` naming a missing peer.

Expected numbers: the issue's table (#15), obtained by running each real peer on the built
MobileNetV2 and ResNet-50 (tests/test_peers.py reruns them), and hand arithmetic."""
from __future__ import annotations

import csv
import io
import json

import pytest

from costmodel.count.conventions import CONVENTIONS
from costmodel.count.profile import profile

THOP_MOBILENET_V2 = 327_550_720
PTFLOPS_MOBILENET_V2 = 320_362_728
TORCHINFO_MOBILENET_V2 = 300_809_384
PAPER_MOBILENET_V2 = 300_774_272

# MobileNetV2 at 224: 52 batch norms over 6,678,112 elements (= (thop - paper - pool) / 4, the
# pool being (7 x 7 + 1) x 1280 = 64,000) and 17,056 channels (torchinfo: 2 x 17,056 + the
# classifier's 1,000 biases = 35,112).
BN_ELEMENTS = 6_678_112
BN_CHANNELS = 17_056


def test_the_numbers_decompose_by_hand():
    assert THOP_MOBILENET_V2 - PAPER_MOBILENET_V2 == 4 * BN_ELEMENTS + 50 * 1280
    assert TORCHINFO_MOBILENET_V2 - PAPER_MOBILENET_V2 == 2 * BN_CHANNELS + 1000
    p = profile("mobilenet_v2")
    assert sum(l.activations for l in p.layers if l.op == "batch_norm") == BN_ELEMENTS
    assert sum(l.input_shape[0] for l in p.layers if l.op == "batch_norm") == BN_CHANNELS


def test_json_totals_name_every_convention(cli):
    r = cli("profile", "mobilenet_v2", "--format", "json")
    assert r.code == 0, r
    t = json.loads(r.out)["totals"]
    assert t["flops_thop"] == THOP_MOBILENET_V2
    assert t["flops_ptflops"] == PTFLOPS_MOBILENET_V2
    assert t["flops_ptflops_aten"] == PAPER_MOBILENET_V2 + 1000
    assert t["flops_torchinfo"] == TORCHINFO_MOBILENET_V2
    assert t["flops_calflops"] == 614_967_488
    assert t["flops_calflops_macs"] == PAPER_MOBILENET_V2
    assert t["flops_torchprofile"] == 307_453_664
    assert "flops_training" in t
    assert {c.key for c in CONVENTIONS.values()} <= set(t)


def test_profile_layer_table_under_a_peer(cli):
    r = cli("profile", "mobilenet_v2", "--convention", "thop")
    assert r.code == 0, r
    assert "thop MACs" in r.out and "327,550,720" in r.out
    assert "thop 0.1.1.post2209072238" in r.out.replace("\n", "")


def test_profile_by_type_under_a_peer_markdown(cli):
    r = cli("profile", "mobilenet_v2", "--convention", "thop", "--by", "type", "-f", "markdown")
    assert r.code == 0, r
    row = next(l for l in r.out.splitlines() if l.startswith("| BatchNorm "))
    assert f"{4 * BN_ELEMENTS:,}" in row
    assert "327,550,720" in r.out


def test_profile_csv_and_json_layers_under_a_peer_and_batch(cli):
    """Profile's rows count one sample (as the papers do); --batch adds the whole batch's
    count under the convention."""
    r = cli("profile", "mobilenet_v2", "-c", "torchinfo", "-f", "csv", "--batch", "3")
    assert r.code == 0, r
    rows = list(csv.DictReader(io.StringIO(r.out)))
    bn = [int(x["torchinfo"]) for x in rows if x["op"] == "batch_norm"]
    assert sum(bn) == 2 * BN_CHANNELS
    assert sum(int(x["torchinfo"]) for x in rows) == TORCHINFO_MOBILENET_V2
    r = cli("profile", "mobilenet_v2", "-c", "ptflops-aten", "-f", "json", "-b", "2")
    data = json.loads(r.out)
    assert data["convention"] == "ptflops-aten" and data["memory"]["batch"] == 2
    assert sum(l["count"] for l in data["layers"]) == PAPER_MOBILENET_V2 + 1000
    assert data["totals"]["flops_ptflops_aten"] == PAPER_MOBILENET_V2 + 1000
    assert data["totals"]["count_at_batch"] == 2 * (PAPER_MOBILENET_V2 + 1000)
    r = cli("profile", "mobilenet_v2", "-c", "thop", "-b", "4")
    assert f"{4 * THOP_MOBILENET_V2:,}" in r.out


def test_an_unknown_convention_is_refused(cli):
    r = cli("profile", "mobilenet_v2", "--convention", "thops")
    assert r.code == 2 and "thops" in (r.out + r.err)


def test_check_guards_the_chosen_conventions_only(cli, tmp_path, monkeypatch):
    spec = tmp_path / "specs"
    spec.mkdir()
    from conftest import SPECS
    (spec / "mobilenet_v2.yaml").write_text((SPECS / "mobilenet_v2.yaml").read_text())
    assert cli("lock", str(spec)).code == 0
    from costmodel.ops.norm import BatchNorm
    monkeypatch.setattr(BatchNorm, "thop", lambda self, a, x, y, n: 0)
    r = cli("check", str(spec), "--convention", "ptflops")
    assert r.code == 0, r                  # thop moved, but only ptflops is guarded
    r = cli("check", str(spec), "--convention", "thop", "-f", "json")
    assert r.code == 1, r
    moved = {c["metric"] for c in json.loads(r.out)["changes"]}
    assert "flops_thop" in moved


def test_explain_names_the_rule(cli):
    r = cli("explain", "mobilenet_v2", "--convention", "thop", "-f", "json")
    assert r.code == 0, r
    d = json.loads(r.out)
    assert d["a"]["total"] == THOP_MOBILENET_V2 and d["b"]["total"] == PAPER_MOBILENET_V2
    bn = next(row for row in d["by_type"] if row["type"] == "BatchNorm")
    assert bn["delta"] == 4 * BN_ELEMENTS
    assert "count_normalization" in bn["rule_a"] and "4 per element" in bn["rule_a"]
    assert d["by_type"][0]["type"] == "BatchNorm"       # the largest difference first


def test_explain_two_peers_and_the_double_count(cli):
    r = cli("explain", "mobilenet_v2", "-c", "ptflops", "--vs", "ptflops-aten", "-f", "markdown")
    assert r.code == 0, r
    assert "counted twice" in r.out
    assert f"{PTFLOPS_MOBILENET_V2 - PAPER_MOBILENET_V2 - 1000:+,}" in r.out
    r = cli("explain", "mobilenet_v2", "-c", "torchinfo")
    assert r.code == 0 and "parameters" in r.out.lower()


def test_explain_csv_rows_sum_to_the_totals(cli):
    r = cli("explain", "resnet50", "-c", "calflops", "--vs", "flop_counter", "-f", "csv")
    rows = list(csv.DictReader(io.StringIO(r.out)))
    assert sum(int(x["calflops"]) for x in rows) == 8_211_108_352
    assert sum(int(x["flop_counter"]) for x in rows) == 2 * 4_089_184_256


def test_an_op_without_a_rule_is_an_error_not_a_zero(monkeypatch, cli):
    from costmodel.ops.base import Op
    from costmodel.ops.norm import BatchNorm
    monkeypatch.setattr(BatchNorm, "torchprofile", Op.torchprofile)
    r = cli("profile", "mobilenet_v1", "-c", "torchprofile")
    assert r.code == 2
    assert "no rule for op 'batch_norm'" in r.err and "torchprofile" in r.err
    r = cli("profile", "mobilenet_v1", "-f", "json")         # the other totals still print
    data = json.loads(r.out)
    assert "flops_torchprofile" not in data["totals"] and "flops_thop" in data["totals"]
    assert "torchprofile" in data["conventions_without_rule"]


def test_verify_peers_names_a_missing_peer(cli, monkeypatch):
    pytest.importorskip("torch")
    from costmodel.torch import peers
    real = peers.installed_version
    monkeypatch.setattr(peers, "installed_version",
                        lambda dist: None if dist == "torchinfo" else real(dist))
    r = cli("verify", "mobilenet_v3_small", "--set", "resolution=64", "--peers", "-f", "json")
    assert r.code == 0, r
    got = {c["convention"]: c for c in json.loads(r.out)["peers"]}
    assert got["torchinfo"]["missing"] and "not installed" in got["torchinfo"]["missing"]
    assert got["thop"]["match"] and got["thop"]["layers_compared"] > 0
    assert all(got[n]["match"] for n in got if n != "torchinfo")


def test_verify_peers_fails_on_a_wrong_rule(cli, monkeypatch):
    pytest.importorskip("torch")
    from costmodel.ops.pool import GlobalAvgPool
    monkeypatch.setattr(GlobalAvgPool, "torchprofile", lambda self, a, x, y, n: 0)
    r = cli("verify", "mobilenet_v3_small", "--set", "resolution=64", "--peers")
    assert r.code == 1
    assert "MISMATCH" in r.out


# -- latency --convention: the count beside the prediction -------------------------------------
def test_latency_shows_the_conventions_count_beside_the_prediction(cli):
    r = cli("latency", "mobilenet_v2", "-c", "thop", "-b", "2", "-f", "json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    t = doc["totals"]
    # thop's number for MobileNetV2 (the table); every rule here is linear in the
    # batch (the 7x7 global pool's kernel is a whole 49), so the batch of 2 is twice it
    assert t["flops_thop"] == t["count"] == THOP_MOBILENET_V2
    assert t["count_at_batch"] == 2 * THOP_MOBILENET_V2
    assert doc["convention"] == "thop" and doc["count_title"] == "thop MACs"
    assert doc["kind"] == "predicted" and t["time_s"] > 0        # still a prediction
    bn = [l for l in doc["layers"] if l["op"] == "batch_norm"]
    assert sum(l["count"] for l in bn) == 4 * BN_ELEMENTS
    assert sum(l["count_at_batch"] for l in bn) == 8 * BN_ELEMENTS
    rows = {r["type"]: r for r in doc["by_type"]}
    assert rows["BatchNorm"]["count"] == 4 * BN_ELEMENTS
    # the prediction itself does not depend on the convention
    plain = json.loads(cli("latency", "mobilenet_v2", "-b", "2", "-f", "json").out)
    assert plain["totals"]["time_s"] == t["time_s"] and "flops_thop" not in plain["totals"]


def test_latency_convention_table_csv_and_type_rows(cli):
    r = cli("latency", "mobilenet_v2", "-c", "torchinfo", "--by", "type", "-f", "markdown")
    assert r.code == 0, r.err
    assert "torchinfo mult-adds" in r.out and f"{TORCHINFO_MOBILENET_V2:,}" in r.out
    assert "counted (not predicted)" in r.out and "PREDICTED" in r.out
    r = cli("latency", "mobilenet_v2", "-c", "ptflops", "-f", "csv")
    rows = list(csv.DictReader(io.StringIO(r.out)))
    assert sum(int(x["count"]) for x in rows) == PTFLOPS_MOBILENET_V2
    assert {x["convention"] for x in rows} == {"ptflops"} and rows[0]["kind"] == "predicted"
    r = cli("latency", "mobilenet_v2", "-c", "paper")
    assert r.code == 0 and f"{PAPER_MOBILENET_V2:,}" in r.out
    assert cli("latency", "mobilenet_v2", "-c", "nope").code == 2
