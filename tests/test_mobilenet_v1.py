"""MobileNet v1 against the paper (Howard et al. 2017), derived independently of the spec:
the layer list comes from the paper's Table 1 as transcribed in shared/reference, and the cost
from the paper's formulas (Section 3: D_K*D_K*M*D_F*D_F for depthwise, M*N*D_F*D_F for
pointwise, D_K*D_K*M*N*D_F*D_F for a standard conv; FC: M*N)."""
from __future__ import annotations

import math

import pytest
import yaml

import costmodel
from conftest import ROOT, SPECS

SPEC = SPECS / "mobilenet_v1.yaml"
TABLES = yaml.safe_load((ROOT / "tests" / "data" / "seed_tables.yaml").read_text())
MNV1 = TABLES["mobilenet_v1"]


def table1_rows():
    """Table 1's rows, with the 5x repeat expanded."""
    rows = []
    for r in MNV1["table_1_body"]:
        if isinstance(r, dict):
            rows += r["layers"] * r["repeat"]
        else:
            rows.append(r)
    return rows


def paper_counts(alpha: float, rho: int):
    """(mult-adds, conv/fc weights, batch-norm params, fc bias) from Table 1 and the paper's
    formulas; alpha thins every layer as max(int(c * alpha), 8) (the reference TF code's
    depth() rule), rho sets the input resolution."""
    depth = lambda c: max(int(c * alpha), 8)
    size = rho
    macs = weights = bn = 0
    for kind, stride, filt, _ in table1_rows():
        if kind == "conv_dw":
            m = depth(filt[2])
            # The depthwise layer printed "s2" on a 7x7 input (a typo) has stride 1: Table 1's own
            # next row is still 7x7.
            if stride == 2 and size > 7 or (stride == 2 and size == rho // 16):
                size = -(-size // 2)
            macs += 3 * 3 * m * size * size
            weights += 3 * 3 * m
            bn += 2 * m
        elif kind == "conv":
            k, _, m, n = filt
            m = 3 if m == 3 else depth(m)
            n = depth(n)
            if stride == 2:
                size = -(-size // 2)
            macs += k * k * m * n * size * size
            weights += k * k * m * n
            bn += 2 * n
        elif kind == "fc":
            m, n = depth(filt[0]), filt[1]
            macs += m * n
            weights += m * n
    return macs, weights, bn, 1000


@pytest.mark.parametrize("alpha", [1.0, 0.75, 0.5, 0.25])
@pytest.mark.parametrize("rho", [224, 192, 160, 128])
def test_every_width_and_resolution_matches_the_papers_formulas(alpha, rho):
    macs, weights, bn, bias = paper_counts(alpha, rho)
    p = costmodel.profile(SPEC, width=alpha, resolution=rho)
    assert p.mult_adds == macs
    assert p.weights == weights
    assert p.params == weights + bn + bias


def test_table1_layer_shapes():
    """Input sizes of the conv / dw / fc layers equal Table 1's 'Input Size' column (HxWxC),
    except the typo'd depthwise row whose output stays 7x7."""
    p = costmodel.profile(SPEC)
    convs = [l for l in p.layers if l.op in ("conv2d", "depthwise", "pointwise", "linear")]
    printed = [r for r in table1_rows() if r[0] in ("conv", "conv_dw", "fc")]
    assert len(convs) == len(printed) == 28
    for layer, row in zip(convs, printed):
        h, w, c = row[3]
        shape = layer.input_shape
        got = (shape[1], shape[2], shape[0]) if len(shape) == 3 else (1, 1, shape[0])
        assert got == (h, w, c), layer.name
    typo = [l for l in convs if l.op == "depthwise"][-1]
    assert typo.input_shape == (1024, 7, 7) and typo.output_shape == (1024, 7, 7)


def printed_as(exact_millions: float, printed: float) -> bool:
    """The paper's printed figure: mostly rounded (568.74 -> 569), but two 160-pixel rows are
    truncated (290.68 -> 290, 76.52 -> 76); no single rule fits all of Tables 6, 7 and 9.
    Either way the exact count is within 1 M of the print."""
    return printed in (round(exact_millions), math.floor(exact_millions))


@pytest.mark.parametrize("row", MNV1["table_6_width_multiplier"])
def test_table6_width(row):
    alpha = float(row["model"].split()[0])
    p = costmodel.profile(SPEC, width=alpha)
    assert round(p.mult_adds / 1e6) == row["mult_adds_M"]
    assert round(p.params / 1e6, 1) == row["params_M"]


@pytest.mark.parametrize("row", MNV1["table_7_resolution"])
def test_table7_resolution(row):
    rho = int(row["model"].split("-")[1])
    p = costmodel.profile(SPEC, resolution=rho)
    assert printed_as(p.mult_adds / 1e6, row["mult_adds_M"])
    if rho == 160:  # 160*160/(224*224) of the convs + the 1,024,000 FC = 290.68 M; printed 290
        assert p.mult_adds == 290_675_200
    assert round(p.params / 1e6, 1) == row["params_M"]


def test_table9_050_mobilenet_160():
    # Table 9: 0.50 MobileNet-160: 76 M mult-adds, 1.32 M parameters. The paper's parameter
    # count is the conv/FC weights: 1.32 M; with batch norm and the FC bias it is 1.33 M.
    p = costmodel.profile(SPEC, width=0.5, resolution=160)
    assert printed_as(p.mult_adds / 1e6, 76) and 76e6 <= p.mult_adds < 77e6
    assert round(p.weights / 1e6, 2) == 1.32
    assert round(p.params / 1e6, 2) == 1.33


def test_table2_per_type_shares():
    # Table 2: Conv 1x1 94.86% of mult-adds / 74.59% of parameters; Conv DW 3x3 3.06% / 1.06%;
    # Fully Connected 0.18% / 24.33%. The paper's parameter shares are of the weights (no BN).
    # It prints 1.19% / 0.02% for Conv 3x3, but its four rows then add up to 99.29%; the one
    # 3x3x3x32 conv at 112x112 is 3*3*3*32*112*112 = 10,838,016 of 568.7 M = 1.91%, which makes
    # the shares add up to 100%. We check the complement: 100 - 94.86 - 3.06 - 0.18 = 1.90.
    p = costmodel.profile(SPEC)
    rows = {r.type: r for r in p.by_type()}
    pct = lambda part, whole: round(100 * part / whole, 2)
    assert pct(rows["Conv 1x1"].mult_adds, p.mult_adds) == 94.86
    assert pct(rows["Conv 1x1"].weights, p.weights) == 74.59
    assert pct(rows["Conv DW 3x3"].mult_adds, p.mult_adds) == 3.06
    assert pct(rows["Conv DW 3x3"].weights, p.weights) == 1.06
    assert pct(rows["Fully Connected"].mult_adds, p.mult_adds) == 0.18
    assert pct(rows["Fully Connected"].weights, p.weights) == 24.33
    assert pct(rows["Conv 3x3"].weights, p.weights) == 0.02
    assert rows["Conv 3x3"].mult_adds == 3 * 3 * 3 * 32 * 112 * 112
    assert abs(pct(rows["Conv 3x3"].mult_adds, p.mult_adds) - 1.90) <= 0.015


def test_by_type_cli_prints_table2(cli):
    r = cli("profile", SPEC, "--by", "type", "--format", "markdown")
    assert r.code == 0, r
    row = next(l for l in r.out.splitlines() if l.startswith("| Conv 1x1 "))
    assert "94.86%" in row and "74.59%" in row
