"""Issue 10: a regular (non-editable) install of the core, without any extra, works from any
folder: the zoo, the registry and the baseline travel as package data, torch is not needed for
the analytic commands, and a torch command names the extra to install."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv

import pytest

from conftest import ROOT


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh venv with `pip install SRC` (core dependencies only), SRC a copy of the sources."""
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "constraints.txt"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "costmodel", src / "costmodel",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    env_dir = base / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    r = subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        "-c", str(ROOT / "constraints.txt"), str(src)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    work = base / "elsewhere"
    work.mkdir()
    return env_dir, work


def run(installed, *args, python=False):
    env_dir, work = installed
    exe = env_dir / "bin" / ("python" if python else "costmodel")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    return subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=work, env=env)


def test_the_core_install_has_no_torch(installed):
    r = run(installed, "-c", "import torch", python=True)
    assert r.returncode != 0 and "No module named 'torch'" in r.stderr
    r = run(installed, "-c", "import cli", python=True)
    assert r.returncode != 0 and "No module named 'cli'" in r.stderr


def test_profile_by_name_from_another_folder(installed):
    """MobileNet v1 from the installed zoo: the paper's 569 M mult-adds and 4.2 M params (Table 6)."""
    r = run(installed, "profile", "mobilenet_v1", "--format", "json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert "site-packages" in data["file"]
    assert round(data["totals"]["mult_adds"] / 1e6) == 569
    assert round(data["totals"]["params"] / 1e6, 1) == 4.2


def test_table_and_check_from_another_folder(installed):
    r = run(installed, "table", "mobilenet_v1-table6", "--format", "csv")
    assert r.returncode == 0, r.stderr
    assert "0.25 MobileNet-224" in r.stdout
    r = run(installed, "check")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("ok: ")


def test_a_torch_command_names_the_extra(installed):
    r = run(installed, "verify", "mobilenet_v1")
    assert r.returncode == 2
    assert "needs the 'torch' extra" in r.stderr and "costmodel[torch]" in r.stderr
    assert "Traceback" not in r.stderr


def test_version_of_the_installed_package(installed):
    r = run(installed, "--version")
    assert r.returncode == 0
    import tomllib
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert r.stdout.strip() == f"costmodel {declared}"
