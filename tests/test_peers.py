"""The peers' conventions against the REAL peer packages (thop, ptflops, torchinfo, calflops,
torchprofile, pinned in pyproject's `test` extra): for every shipped spec at its defaults, each
peer's number on the built module equals the analytic convention to the unit, per layer where
the peer reports per module. The expected numbers come from running the peers, never from our
own code.

Each peer runs once per spec (a module-scoped fixture): a few seconds per spec on one core.
"""
from __future__ import annotations

import pytest

from costmodel.count import conventions
from costmodel.count.profile import profile
from costmodel.spec import zoo

pytest.importorskip("torch")
peers = pytest.importorskip("costmodel.torch.peers")


pytestmark = pytest.mark.usefixtures("one_torch_thread")

SPECS = zoo.names()


def test_every_convention_counts_every_shipped_spec():
    """Every op states every peer's rule: no shipped spec is refused by any convention."""
    for name in zoo.names():
        assert profile(name).available() == {}, name

# The issue's table (#15): what each peer printed for the same built modules.
TABLE = {
    "mobilenet_v2": {"paper": 300_774_272, "thop": 327_550_720, "ptflops": 320_362_728,
                     "ptflops-aten": 300_775_272, "torchinfo": 300_809_384,
                     "calflops": 614_967_488, "torchprofile": 307_453_664},
    "resnet50": {"paper": 4_089_184_256, "thop": 4_133_742_592, "ptflops": 4_132_436_968,
                 "ptflops-aten": 4_089_185_256, "torchinfo": 4_089_238_376,
                 "calflops": 8_211_108_352, "torchprofile": 4_100_300_288},
}


@pytest.fixture(scope="module")
def checked():
    """{spec: {convention: PeerCheck}} for every shipped spec at its defaults, batch 1."""
    from costmodel.torch.builder import build
    out = {}
    for name in SPECS:
        p = profile(name)
        out[name] = {c.convention: c for c in peers.check_peers(p, model=build(p.root))}
    return out


def test_every_peer_is_installed_at_the_pinned_version(checked):
    for check in checked[SPECS[0]].values():
        assert not check.missing, check.missing
        dist, pinned = peers.VERSIONS[check.convention]
        assert peers.same_version(check.version, pinned), (check.convention, check.version)


@pytest.mark.parametrize("spec", SPECS)
def test_every_peer_matches_its_convention_on_every_shipped_spec(checked, spec):
    bad = []
    for name, check in checked[spec].items():
        if check.error:
            bad.append(f"{name}: the peer failed: {check.error}")
        elif check.measured != check.analytic:
            bad.append(f"{name}: peer {check.measured:,} != analytic {check.analytic:,}")
        for layer, analytic, got in check.layer_mismatches:
            bad.append(f"{name} layer {layer}: peer {got:,} != analytic {analytic:,}")
    assert not bad, f"{spec}: " + "; ".join(bad[:8])


def test_per_layer_comparisons_cover_every_layer(checked):
    for spec, per in checked.items():
        n = len(profile(spec).layers)
        for name in ("thop", "torchinfo"):
            assert len(per[name].layers) == n, (spec, name)


@pytest.mark.parametrize("spec", sorted(TABLE))
def test_the_issue_table_is_reproduced(checked, spec):
    for name, number in TABLE[spec].items():
        if name == "paper":
            assert profile(spec).mult_adds == number
            continue
        assert checked[spec][name].measured == number, name
        assert profile(spec).total(name) == number, name


def test_calflops_macs_are_the_papers_mult_adds(checked):
    for spec, per in checked.items():
        assert per["calflops-macs"].measured == profile(spec).mult_adds, spec


def test_a_batch_of_three_scales_every_peer():
    """At batch 3 the peers count the whole batch; so do the conventions (`--batch`)."""
    p = profile("mobilenet_v3_small", resolution=96)
    for check in peers.check_peers(p, batch=3):
        assert check.ok, check.to_dict()
        assert check.analytic == 3 * p.total(check.convention), check.convention


def test_thop_adaptive_pool_truncation_matches_thop():
    """thop's adaptive pooling kernel is a float ratio, the product truncated: at 112 pixels
    VGG's 7x7 adaptive pool sees 3x3 maps (kernel 9/49)."""
    p = profile("vgg16", resolution=112)
    layer = next(l for l in p.layers if l.op == "adaptive_avg_pool")
    assert layer.input_shape[1:] == (3, 3)
    (check,) = peers.check_peers(p, ["thop"], batch=3)
    assert check.ok, check.to_dict()


def test_a_seeded_wrong_rule_is_caught_and_named(monkeypatch):
    """thop's batch norm at 2 per element instead of 4: the check fails, naming the
    convention and every batch-norm layer."""
    from costmodel.ops.norm import BatchNorm
    monkeypatch.setattr(BatchNorm, "thop", lambda self, a, x, y, n: 2 * n * x[0] * x[1] * x[2])
    p = profile("mobilenet_v2", resolution=96)
    (check,) = peers.check_peers(p, ["thop"])
    assert not check.ok
    assert check.measured - check.analytic == 2 * sum(
        l.activations for l in p.layers if l.op == "batch_norm")
    named = {layer for layer, _, _ in check.layer_mismatches}
    assert named == {l.name for l in p.layers if l.op == "batch_norm"}


def test_every_op_has_a_rule_for_every_peer():
    """A new op must state each peer's rule in its class (the base class raises NoRule: never
    a silent 0)."""
    from costmodel.ops.base import OPS, PEER_RULES, Op
    missing = [f"{name}.{rule}" for name, op in OPS.items() for rule in PEER_RULES
               if getattr(type(op), rule) is getattr(Op, rule) and rule != "calflops_macs"]
    assert not missing, missing


# Issue 11's ops (layer norm channels-first and flat, with and without affine, GELU, the layer
# scale channels-first and flat, the global pool's mean mode, the mul gate, the SE with GELU)
# on a tiny network, input 3x4x4. Per sample, by hand from each peer's source:
#   conv 3->8 1x1, no bias: 384 MACs. C x H x W = 128 elements; the SE squeezes 8 -> 4 (64 MACs,
#   biases 4 + 8); flat layer norm over 8 features (16 params); linear 8 -> 10 (80 MACs, bias 10).
NEW_OPS = [
    {"op": "conv2d", "out": 8, "kernel": 1},
    {"op": "layer_norm", "eps": 1e-6}, "gelu", {"op": "layer_norm", "affine": False}, "scale",
    {"parallel": [[], [{"op": "global_avg_pool", "mode": "mean"}, "sigmoid"]], "merge": "mul"},
    {"op": "se", "squeeze": 4, "gate": "sigmoid", "act": "gelu"},
    {"op": "global_avg_pool", "mode": "mean"}, "flatten", "layer_norm", "scale",
    {"op": "linear", "out": 10}]
NEW_OPS_BY_HAND = {
    # thop: conv 384; LN 4/element (512), without affine 2 (256); SE pool 8 x (16 + 1) + 64;
    # flat LN 4 x 8; linear in x out (80); GELU, scale, mean, sigmoid, mul: no rule, 0
    "thop": 384 + 512 + 256 + (8 * 17 + 64) + 32 + 80,
    # ptflops: LN 1/element affine or not (128 + 128); GELU twice (256); SE: pool 2 x 128,
    # convs 64 + biases 12, GELU twice 2 x 4; flat LN 8; linear 80 + 10; scale, mean, mul 0
    "ptflops": 384 + 128 + 256 + 128 + (256 + 64 + 12 + 8) + 8 + 90,
    # ptflops aten: convolutions and addmm with their biases only
    "ptflops-aten": 384 + (64 + 12) + 90,
    # torchinfo: LN's 2C parameters (16), none without affine; scale's gamma is not a weight
    # or bias: 0; SE's 76 parameters; flat LN 16; linear 90
    "torchinfo": 384 + 16 + 76 + 16 + 90,
    # calflops: 2 x MACs; LN 5/element (640), without affine 4 (512); GELU 1 (128);
    # SE: pool 128 + 2 x 64 + biases 12 + GELU 4; flat LN 40; linear 2 x 80 (no bias)
    "calflops": 768 + 640 + 128 + 512 + (128 + 128 + 12 + 4) + 40 + 160,
    "calflops-macs": 384 + 64 + 80,
    # torchprofile: LN 1/output element with affine (128), 0 without; scale aten::mul 128;
    # mean 1/output (8); the gate's mul 128; SE: pool 8 + 64 + mul 128; mean 8; flat LN 8;
    # flat scale 8; linear 80; GELU and sigmoid no handler: 0
    "torchprofile": 384 + 128 + 128 + 8 + 128 + (8 + 64 + 128) + 8 + 8 + 8 + 80,
}


def test_new_ops_peers_by_hand_and_against_the_real_peers():
    p = profile({"name": "new_ops", "input": [3, 4, 4], "layers": NEW_OPS})
    for name, number in NEW_OPS_BY_HAND.items():
        assert p.total(name) == number, name
        assert p.total(name, batch=2) == 2 * number, name
    for check in peers.check_peers(p, batch=2):
        assert check.ok, check.to_dict()
        assert check.measured == 2 * NEW_OPS_BY_HAND[check.convention], check.convention


def test_torchprofile_mul_of_three_with_a_broadcast_first_branch_is_refused(cli, write_spec):
    """torchprofile counts each aten::mul's output: with a C x 1 x 1 first branch among three
    the count depends on the order of the others, which the rule does not see: exit 2."""
    path = write_spec("""
        name: m
        input: [3, 4, 4]
        layers:
          - {op: conv2d, out: 8, kernel: 1}
          - {parallel: [[{op: global_avg_pool}], [], []], merge: mul}
        """)
    r = cli("profile", path, "--convention", "torchprofile", "--format", "json")
    assert r.code == 2 and "no rule for op 'mul (3 or more branches" in r.err
    assert cli("profile", path, "--convention", "thop", "--format", "json").code == 0


def test_conventions_name_their_peer_versions():
    for name in conventions.PEERS:
        c = conventions.CONVENTIONS[name]
        dist, pinned = peers.VERSIONS[name]
        assert c.peer == f"{dist} {pinned}", (name, c.peer)


def _new_ops_yaml(tmp_path):
    import yaml
    d = tmp_path / "specs"
    d.mkdir()
    (d / "new_ops.yaml").write_text(yaml.safe_dump(
        {"name": "new_ops", "input": [3, 4, 4], "layers": NEW_OPS}, sort_keys=False))
    return d


def test_verify_all_with_peers_runs_every_peer_on_every_run(cli, tmp_path):
    """`verify --all DIR --peers`: each run also runs every real peer; the peers' totals are
    the hand-derived numbers."""
    import json
    d = _new_ops_yaml(tmp_path)
    r = cli("verify", "--all", d, "--peers", "--format", "json", "--jobs", "1")
    assert r.code == 0, r.out[-2000:] + r.err
    (result,) = json.loads(r.out)["results"]
    got = {c["convention"]: c["peer"] for c in result["peers"]}
    assert got == NEW_OPS_BY_HAND
    assert all(c["match"] for c in result["peers"])
    table = cli("verify", "--all", d, "--peers", "--jobs", "1")
    assert table.code == 0 and "7/7 equal" in table.out


def test_verify_all_with_peers_names_a_seeded_wrong_rule(cli, tmp_path, monkeypatch):
    """thop's layer norm at 2 per element instead of 4 (jobs 1: this process): exit 1,
    the run names the peer and its delta."""
    from costmodel.ops.norm import LayerNorm
    monkeypatch.setattr(LayerNorm, "thop", lambda self, a, x, y, n: 2 * n * x[0] * (
        x[1] * x[2] if len(x) == 3 else 1))
    d = _new_ops_yaml(tmp_path)
    r = cli("verify", "--all", d, "--peers", "--jobs", "1")
    assert r.code == 1
    # affine LN over 128 elements and over 8: thop counts 4 per element, the seeded rule 2
    assert f"thop +{2 * 128 + 2 * 8}" in r.out
