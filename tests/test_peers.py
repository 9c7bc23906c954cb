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

# Specs using an op whose peers' rules are not stated yet (ops.base.PEERS_NOT_STATED, GELU):
# every peer convention refuses them (NoRule, exit 2); test_specs_without_stated_rules_refuse.
NOT_STATED_SPECS = {"convnext_t"}
SPECS = [n for n in zoo.names() if n not in NOT_STATED_SPECS]


def test_specs_without_stated_rules_refuse_every_peer():
    from costmodel.ops.base import NoRule
    for name in zoo.names():
        p = profile(name)
        for c in conventions.PEERS:
            if name in NOT_STATED_SPECS and c != "calflops-macs":   # MACs: defined for every op
                with pytest.raises(NoRule):
                    p.total(c)
            else:
                p.total(c)

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
    """A new op must state each peer's rule, or be listed as not stated (NoRule: never a silent
    0); the listed ones really refuse every peer convention."""
    from costmodel.ops.base import OPS, PEER_RULES, PEERS_NOT_STATED, NoRule, Op
    missing = [f"{name}.{rule}" for name, op in OPS.items() for rule in PEER_RULES
               if getattr(type(op), rule) is getattr(Op, rule) and rule != "calflops_macs"
               and name not in PEERS_NOT_STATED]
    assert not missing, missing
    for name in PEERS_NOT_STATED:
        for rule in PEER_RULES:
            if rule == "calflops_macs":
                continue
            with pytest.raises(NoRule):
                getattr(OPS[name], rule)({}, (8, 4, 4), (8, 4, 4), 1)


def test_new_activations_without_a_stated_rule_refuse_the_peers(cli, write_spec):
    """GELU has no stated peer rule: a peer convention is exit 2 naming it, not a number."""
    path = write_spec("""
        name: g
        input: [3, 8, 8]
        layers:
          - {op: conv2d, out: 4, kernel: 3}
          - gelu
        """)
    r = cli("profile", path, "--convention", "thop", "--format", "json")
    assert r.code == 2 and "no rule for op 'gelu'" in r.err
    assert cli("profile", path, "--format", "json").code == 0


def test_conventions_name_their_peer_versions():
    for name in conventions.PEERS:
        c = conventions.CONVENTIONS[name]
        dist, pinned = peers.VERSIONS[name]
        assert c.peer == f"{dist} {pinned}", (name, c.peer)
