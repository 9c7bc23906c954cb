"""`costmodel import` and `costmodel profile REF|model.onnx`: the torchvision-structured
references (tests/reference_models.py) written as specs, through torch.fx and through ONNX,
profile to exactly what fvcore counts on the module itself (its conv + linear ops: the
mult-adds) and to sum(p.numel()); ops the spec language lacks are listed, exit 2."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

import costmodel
import reference_models as R
from costmodel.errors import SpecError
from costmodel.importer.source import checked, import_source
from costmodel.torch.crosscheck import fvcore_analysis, quiet

REFS = Path(__file__).resolve().parent / "reference_models.py"
FACTORIES = ["resnet50", "mobilenet_v2", "shufflenet_v2_x1_0"]
SHAPE = (3, 64, 64)


def fvcore_counts(module):
    """(params, conv + linear MACs, total) of the module itself, by fvcore."""
    x = torch.randn((1, *SHAPE))
    with quiet(), torch.no_grad():
        fa = fvcore_analysis(module, x)
        ops = fa.by_operator()
        total = int(fa.total())
    macs = int(sum(v for k, v in ops.items() if k in ("conv", "linear", "addmm", "matmul")))
    return sum(p.numel() for p in module.parameters()), macs, total, dict(ops)


@pytest.fixture(scope="module")
def onnx_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("onnx")
    out = {}
    for f in FACTORIES:
        path = folder / f"{f}.onnx"
        with quiet():
            torch.onnx.export(getattr(R, f)(), (torch.randn(1, *SHAPE),), str(path), dynamo=False,
                              do_constant_folding=True, training=torch.onnx.TrainingMode.PRESERVE)
        out[f] = path
    return out


def _walk(entries):
    for e in entries:
        yield e
        if isinstance(e, dict):
            for k in ("residual", "shortcut"):
                yield from _walk(e.get(k) or [])
            for path in e.get("parallel") or []:
                yield from _walk(path)


def _structure(spec):
    kinds = [("residual" if "residual" in e else "parallel" if "parallel" in e else e["op"])
             for e in _walk(spec["layers"])]
    return kinds.count("residual"), kinds.count("parallel")


# ResNet-50: 16 bottlenecks (adds); MobileNetV2: 10 residual bottlenecks; ShuffleNetV2: 16
# units, each a concat (13 of them fed by a channel split)
STRUCTURE = {"resnet50": (16, 0), "mobilenet_v2": (10, 0), "shufflenet_v2_x1_0": (0, 16)}


@pytest.mark.parametrize("factory", FACTORIES)
def test_module_round_trip_equals_fvcore_on_the_module(factory, onnx_files):
    params, macs, total, ops = fvcore_counts(getattr(R, factory)())
    for source in (f"{REFS}:{factory}", str(onnx_files[factory])):
        imp = import_source(source, SHAPE)
        p = costmodel.profile(imp.spec)
        assert p.params == params, source
        assert p.mult_adds == macs, source
        # fvcore also counts batch norms and adaptive pooling; ShuffleNetV2 pools with
        # x.mean(), which fvcore does not count: the spec's global pool (64 * ... inputs) does
        pool = ops.get("adaptive_avg_pool2d", 0)
        gap = [l for l in p.layers if l.op == "global_avg_pool"]
        assert len(gap) == 1
        expected = total if pool else total + gap[0].fvcore
        assert p.total("fvcore") == expected, source
        assert _structure(imp.spec) == STRUCTURE[factory], source
        checked(imp)


def test_cli_import_writes_a_spec_that_profiles_alike(cli, tmp_path, onnx_files):
    out = tmp_path / "r50.yaml"
    r = cli("import", f"{REFS}:resnet50", "--input", "3x64x64", "--out", out)
    assert r.code == 0, r
    spec = yaml.safe_load(out.read_text())
    assert spec["input"] == [3, 64, 64] and spec["layers"][0]["op"] == "conv2d"
    assert spec["layers"][0] == {"op": "conv2d", "name": "conv1", "out": 64, "kernel": 7,
                                 "stride": 2, "padding": 3}
    r = cli("profile", out, "--format", "json")
    params, macs, *_ = fvcore_counts(R.resnet50())
    data = json.loads(r.out)
    assert data["totals"]["params"] == params and data["totals"]["mult_adds"] == macs
    assert "25,557,032" in cli("import", str(onnx_files["resnet50"])).out


def test_profile_imports_in_one_step(cli, onnx_files):
    params, macs, *_ = fvcore_counts(R.mobilenet_v2())
    r = cli("profile", str(onnx_files["mobilenet_v2"]), "--format", "json")
    assert r.code == 0, r
    assert json.loads(r.out)["totals"]["mult_adds"] == macs
    r = cli("profile", f"{REFS}:shufflenet_v2_x1_0", "--format", "json")
    assert r.code == 0, r
    assert json.loads(r.out)["totals"]["params"] == 2_278_604    # torchvision's num_params


# -- ops the spec language lacks -------------------------------------------------------------------
class WithTanh(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.act = torch.nn.Tanh()
        self.fc = torch.nn.Linear(8 * 8 * 8, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.act(self.conv(x)), 1))


def with_tanh():
    return WithTanh().eval()


def _tanh_onnx(tmp_path) -> Path:
    path = tmp_path / "tanh.onnx"
    with quiet():
        torch.onnx.export(with_tanh(), (torch.randn(1, 3, 8, 8),), str(path), dynamo=False)
    return path


def test_unknown_ops_are_listed_by_name_exit_2_or_kept_as_flagged_placeholders(cli, tmp_path):
    onnx_path = _tanh_onnx(tmp_path)
    for source, where in ((f"{Path(__file__)}:with_tanh", "act"), (str(onnx_path), "Tanh")):
        r = cli("import", source, "--input", "3x8x8")
        assert r.code == 2, r
        assert "cannot express" in r.err and "Tanh" in r.err and where in r.err
        assert "Traceback" not in r.err and len(r.err.strip().splitlines()) == 1
        out = tmp_path / "kept.yaml"
        r = cli("import", source, "--input", "3x8x8", "--allow-unknown", "--out", out)
        assert r.code == 0, r
        assert "UNKNOWN" in r.err
        [ph] = [e for e in yaml.safe_load(out.read_text())["layers"] if e["op"] == "unknown"]
        assert (ph["channels"], ph["height"], ph["width"]) == (8, 8, 8)
        r = cli("profile", out)
        assert "UNKNOWN" in r.out
        p = costmodel.profile(out)
        # conv 8*3*9*64 = 13,824 + fc 512*10 = 5,120 mult-adds; the placeholder counts 0
        assert p.mult_adds == 13_824 + 5_120
        assert p.params == 8 * 27 + 8 + 5_120 + 10


@pytest.mark.parametrize("content, words", [
    (b"", "not an ONNX model"),
    (b"this is not onnx at all" * 10, "not an ONNX model"),
    (None, "not an ONNX model"),        # a real model cut in half
])
def test_bad_onnx_file_is_one_line_exit_2(cli, tmp_path, content, words):
    path = tmp_path / "bad.onnx"
    if content is None:
        full = _tanh_onnx(tmp_path).read_bytes()
        content = full[: len(full) // 2]
    path.write_bytes(content)
    for argv in (("import", path), ("profile", path)):
        r = cli(*argv)
        assert r.code == 2, r
        assert words in r.err and str(path) in r.err
        assert "Traceback" not in r.err and len(r.err.strip().splitlines()) == 1


@pytest.mark.parametrize("ref, words", [
    ("{refs}:raises", "raised ValueError"),
    ("{refs}:not_a_module", "not a torch.nn.Module"),
    ("no_such_module_xyz:f", "does not import"),
])
def test_bad_reference_for_import_is_one_line_exit_2(cli, ref, words):
    r = cli("import", ref.format(refs=REFS))
    assert r.code == 2 and words in r.err and "Traceback" not in r.err


def test_module_rejecting_the_input_is_exit_2(cli):
    r = cli("import", f"{REFS}:resnet50", "--input", "1x32x32")
    assert r.code == 2 and "rejects an input of shape 1x32x32" in r.err


def test_a_missing_extra_is_named_exit_2(cli, monkeypatch, tmp_path):
    from costmodel import extras
    monkeypatch.setattr(extras, "missing", lambda extra: ["onnx"] if extra == "onnx" else [])
    path = tmp_path / "m.onnx"
    path.write_bytes(b"x")
    r = cli("import", path)
    assert r.code == 2 and "needs the 'onnx' extra" in r.err and "costmodel[onnx]" in r.err


def test_profile_of_a_spec_imports_no_importer_dependency():
    import subprocess
    import sys
    code = ("import sys\nfrom costmodel.cli.app import main\n"
            "try:\n    main(['profile', 'mobilenet_v1', '--format', 'json'])\n"
            "except SystemExit as e:\n    assert e.code in (0, None), e.code\n"
            "bad = [m for m in ('torch', 'fvcore', 'onnx') if m in sys.modules]\n"
            "assert not bad, bad\nprint('clean')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("clean")
