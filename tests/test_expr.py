"""The safe expression evaluator: what it computes, and what it refuses."""
import pytest

from costmodel.errors import SpecError
from costmodel.spec.expr import evaluate, make_divisible


@pytest.mark.parametrize("text, env, expected", [
    ("32 * width", {"width": 0.75}, 24.0),
    ("int(32 * width)", {"width": 0.3}, 9),            # 9.6 truncated
    ("round(2.5)", {}, 2),                              # Python's banker's rounding, as torchvision
    ("round(3.5)", {}, 4),
    ("max(int(8 * w), 8)", {"w": 0.25}, 8),
    ("min(a, b) + 1", {"a": 3, "b": 5}, 4),
    ("s if i == 0 else 1", {"s": 2, "i": 0}, 2),
    ("s if i == 0 else 1", {"s": 2, "i": 3}, 1),
    ("stride == 1 and c_in == c_out", {"stride": 1, "c_in": 8, "c_out": 8}, True),
    ("not flag or x > 2", {"flag": True, "x": 1}, False),
    ("7 // 2 + 7 % 2 + 2 ** 3", {}, 12),
    ("ceil(5 / 2) + floor(5 / 2)", {}, 5),
    ("-x", {"x": 4}, -4),
])
def test_arithmetic(text, env, expected):
    assert evaluate(text, env) == expected


def test_numbers_pass_through():
    assert evaluate(3, {}) == 3 and evaluate(0.5, {}) == 0.5 and evaluate(True, {}) is True


@pytest.mark.parametrize("value, divisor, expected", [
    # By hand, torchvision's rule: new = max(d, int(v + d/2) // d * d); if new < 0.9 v: new += d
    (32 * 0.35, 8, 16),    # 11.2 -> int(15.2)//8*8 = 8 < 10.08 -> 16
    (16 * 0.35, 8, 8),     # 5.6 -> 8 (the minimum)
    (24 * 0.5, 8, 16),     # 12 -> int(16)//8*8 = 16
    (96 * 0.75, 8, 72),    # 72 -> 72
    (1280 * 1.4, 8, 1792),
    (17, 4, 16),           # 17 -> int(19)//4*4 = 16 >= 15.3
])
def test_make_divisible(value, divisor, expected):
    assert make_divisible(value, divisor) == expected
    assert evaluate(f"make_divisible({value}, {divisor})", {}) == expected


@pytest.mark.parametrize("text, fragment", [
    ("__import__('os')", "unknown function '__import__'"),
    ("width.__class__", "Attribute is not allowed"),
    ("{1: 2}", "Dict is not allowed"),
    ("[1, 2][5]", "out of range"),
    ("(lambda: 1)()", "not allowed"),
    ("widht * 2", "unknown name 'widht' (did you mean 'width'?)"),
    ("2 ** 1000", "exponent 1000 too large"),
    ("max(a=1)", "keyword is not allowed"),
    ("1 +", "cannot parse"),
    ("1 / 0", "division by zero"),
    ("x" * 600, "longer than"),
])
def test_rejected(text, fragment):
    with pytest.raises(SpecError) as info:
        evaluate(text, {"width": 1.0})
    assert fragment in str(info.value)
