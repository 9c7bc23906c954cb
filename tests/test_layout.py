"""Issue 10: the repository stands alone, the package is laid out by concern with imports
running one way, the zoo is package data resolved by name, and there is one version string."""
from __future__ import annotations

import ast
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from conftest import ROOT

PKG = ROOT / "costmodel"

# The layers of the package, lowest first. A module may import from its own layer and from
# any layer listed before it, never from a later one (torch and cli are the edge).
LAYERS = [
    {"errors", "version", "extras", "zoo"},
    {"spec"},
    {"ops"},
    {"graph"},
    {"count", "output"},
    {"guard", "sweep", "papers", "latency", "importer"},
    {"torch"},
    {"cli"},
]
RANK = {name: i for i, names in enumerate(LAYERS) for name in names}
# spec/schema.py validates op fields, so spec may use ops' field declarations; graph uses
# both. This is the one upward edge the loader needs, and it is listed here on purpose.
ALLOWED_UP = {("spec", "ops")}


def _concern(path: Path) -> str:
    rel = path.relative_to(PKG)
    return rel.parts[0].removesuffix(".py") if rel.parts else ""


def _imports(path: Path):
    """(module, is_top_level) for every costmodel import in a file."""
    tree = ast.parse(path.read_text(), str(path))
    top_level = {id(n) for n in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("costmodel"):
            yield node.module, id(node) in top_level, node.lineno
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("costmodel"):
                    yield a.name, id(node) in top_level, node.lineno


def test_every_concern_has_a_layer():
    concerns = {_concern(p) for p in PKG.rglob("*.py")} - {"__init__"}
    assert concerns <= set(RANK), f"place these in LAYERS: {concerns - set(RANK)}"


def test_imports_run_one_way():
    """No module imports, at module level, from a layer above its own; torch-using modules
    (costmodel.torch) are reached only lazily, inside the functions that need them."""
    bad = []
    for path in PKG.rglob("*.py"):
        here = _concern(path)
        if here == "__init__":
            continue
        for module, top, line in _imports(path):
            parts = module.split(".")
            there = parts[1] if len(parts) > 1 else ""
            if there not in RANK or there == here or (here, there) in ALLOWED_UP:
                continue
            if top and RANK[there] > RANK[here]:
                bad.append(f"{path.relative_to(ROOT)}:{line}: {here} imports {module}")
    assert bad == [], "\n".join(bad)


def test_no_top_level_torch_import_outside_costmodel_torch():
    bad = []
    for path in PKG.rglob("*.py"):
        if _concern(path) == "torch":
            continue
        tree = ast.parse(path.read_text())
        for node in tree.body:
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n.split(".")[0] in ("torch", "fvcore", "matplotlib", "onnx") for n in names):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert bad == [], bad


def test_tests_read_nothing_outside_the_repository():
    """A user's clone has no ../shared: no test may reach for it."""
    offenders = [p.name for p in (ROOT / "tests").glob("*.py")
                 if p.name != "test_layout.py" and ("ROOT.parent" in p.read_text()
                                                    or '"shared"' in p.read_text())]
    assert offenders == []
    assert (ROOT / "tests" / "data" / "seed_tables.yaml").is_file()


def test_one_version_string_from_the_metadata():
    import costmodel
    assert costmodel.__version__ == version("costmodel")
    out = subprocess.run([sys.executable, "-m", "costmodel.cli", "--version"], capture_output=True,
                         text=True)
    assert out.returncode == 0 and out.stdout.strip() == f"costmodel {version('costmodel')}"


def test_there_is_no_top_level_cli_package(tmp_path):
    out = subprocess.run([sys.executable, "-c", "import cli"], capture_output=True, text=True,
                         cwd=tmp_path)
    assert out.returncode != 0 and "No module named 'cli'" in out.stderr


# --- the zoo by name -------------------------------------------------------------------------

def test_a_shipped_spec_resolves_by_name_from_any_folder(tmp_path):
    """MobileNetV2 by name: torchvision's 3,504,872 params and the paper's 300 M mult-adds."""
    out = subprocess.run([sys.executable, "-m", "costmodel.cli", "profile", "mobilenet_v2",
                          "--format", "json"], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    import json
    totals = json.loads(out.stdout)["totals"]
    assert totals["params"] == 3_504_872
    assert totals["mult_adds"] // 10**6 == 300     # the paper prints "300M"


def test_unknown_zoo_name_suggests_the_closest(cli):
    r = cli("profile", "mobilenet_v22")
    assert r.code == 2
    assert "no shipped spec named 'mobilenet_v22'" in r.err and "did you mean 'mobilenet_v2'" in r.err
    assert "Traceback" not in r.err


def test_a_name_that_is_also_a_file_here_is_ambiguous(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mobilenet_v1").write_text("name: x\n")
    r = cli("profile", "mobilenet_v1")
    assert r.code == 2 and "write ./mobilenet_v1 for the file" in r.err


def test_zoo_lists_every_shipped_spec_with_settings_and_citation(cli):
    import json
    r = cli("zoo", "--format", "json")
    assert r.code == 0
    specs = {s["name"]: s for s in json.loads(r.out)["specs"]}
    assert set(specs) == {p.stem for p in (PKG / "zoo").glob("*.yaml")}
    assert "width=1.0" in specs["mobilenet_v1"]["settings"]
    assert "1704.04861" in specs["mobilenet_v1"]["citation"]


# --- check reads all of it -------------------------------------------------------------------

SPEC = """name: tiny
input: [3, 8, 8]
settings: {c: 4}
layers:
  - {op: conv2d, out: c, kernel: 3}
"""


def test_check_scans_subfolders_and_lists_every_failing_spec(cli, tmp_path):
    specs = tmp_path / "specs"
    (specs / "sub").mkdir(parents=True)
    (specs / "a.yaml").write_text(SPEC)
    (specs / "sub" / "b.yaml").write_text(SPEC.replace("tiny", "tiny_b"))
    r = cli("lock", specs)
    assert r.code == 0, r.err
    import json
    base = json.loads((specs / "baseline.json").read_text())
    assert set(base["specs"]) == {"a.yaml", "sub/b.yaml"}
    assert cli("check", specs).code == 0
    # --no-recursive sees only a.yaml: sub/b.yaml is reported as removed
    r = cli("check", specs, "--no-recursive")
    assert r.code == 1 and "sub/b.yaml" in r.out
    # two broken specs: both are named, exit 2
    (specs / "a.yaml").write_text(SPEC.replace("out: c", "out: cc"))
    (specs / "sub" / "b.yaml").write_text(SPEC.replace("kernel: 3", "kernal: 3"))
    r = cli("check", specs)
    assert r.code == 2
    assert "2 specs failed to load" in r.err
    assert "a.yaml:5" in r.err and "sub/b.yaml:5" in r.err
    assert "Traceback" not in r.err
