"""Sweeps at search-space scale: ranges, samples, --where, --pareto, streamed formats, the
grid limit, local processes and Ray; bad input exits 2 naming the setting or column.
Expected counts come from the paper's cost formula by hand (mobilenet_v1_by_hand)."""
from __future__ import annotations

import csv
import io
import json
import sys
import types

import pytest

from costmodel.count.profile import Spec
from costmodel.sweep import backends, grid as sweep
from costmodel.sweep.space import MAX_POINTS

from test_tables import ROOT, mobilenet_v1_by_hand

SPEC = ROOT / "costmodel" / "zoo" / "mobilenet_v1.yaml"


def csv_rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_ranges_are_decimal_and_mix_with_values():
    s = sweep.run(SPEC, {"width": ["0.25:0.5:0.05"], "resolution": ["96:224:32", "300", "96"]})
    assert s.axes == {"width": [0.25, 0.3, 0.35, 0.4, 0.45, 0.5],      # 0.3, not 0.30000000000000004
                      "resolution": [96, 128, 160, 192, 224, 300]}       # 96 once
    assert len(s.points) == 36
    assert sweep.run(SPEC, {"resolution": ["96:100:3"]}).axes == {"resolution": [96, 99]}
    for p in s.points:
        macs, weights = mobilenet_v1_by_hand(p.settings["width"], p.settings["resolution"])
        assert (p.mult_adds, p.weights) == (macs, weights)


@pytest.mark.parametrize("args, message", [
    (["--grid", "width=0.25:1.5:0"], "--grid width: the range's step must be positive, got 0"),
    (["--grid", "width=0.25:1.5:-0.05"], "--grid width: the range's step must be positive"),
    (["--grid", "resolution=224:96:32"], "--grid resolution: the range's stop 96 is below its start 224"),
    (["--grid", "resolution=96:224:0.5"], "setting 'resolution' is an integer"),
    (["--grid", "width=0.25:x:0.1"], "--grid width: range '0.25:x:0.1' must be three numbers"),
    (["--grid", "widht=0.5:1:0.25"], "unknown setting 'widht' (did you mean 'width'?)"),
    (["--grid", "width=0.5", "--where", "mult_adds <"], "--where: cannot parse expression"),
    (["--grid", "width=0.5", "--where", "mult_add < 3e8"],
     "--where: unknown column 'mult_add' (did you mean 'mult_adds'?)"),
    (["--grid", "width=0.5", "--where", "mult_adds + 1"], "must be a condition"),
    (["--grid", "width=0.5", "--where", "__import__('os')"], "--where: expression"),
    (["--grid", "width=0.5", "--pareto", "mult_adds,parms"],
     "--pareto: unknown column 'parms' (did you mean 'params'?)"),
    (["--grid", "width=0.5", "--pareto", "mult_adds"], "--pareto expects two or more columns"),
    (["--grid", "width=0.25:1.5:0.01", "--grid", "resolution=96:320:1"],
     f"the grid has 28,350 points; the limit is {MAX_POINTS:,} without --stream"),
    (["--grid", "width=0.5:1:0.25", "--stream"], "--stream writes csv, jsonl or parquet, not table"),
    (["--grid", "width=0.5:1:0.25", "--sample", "4"], "--sample 4 is more than the 3 points"),
    (["--grid", "width=0.5", "--format", "parquet"], "Parquet is binary: give --out FILE.parquet"),
    (["--grid", "width=0.5", "--jobs", "0"], "--jobs must be at least 1"),
    (["--grid", "width=0.5", "--address", "auto"], "--address needs --backend ray"),
])
def test_bad_input_exits_2_naming_it(cli, args, message):
    r = cli("sweep", SPEC, *args)
    assert r.code == 2, r
    assert message in r.err and "Traceback" not in r.err


def test_a_grid_outside_the_choices_names_the_setting(cli):
    r = cli("sweep", "shufflenet_v1", "--grid", "groups=1,5")
    assert r.code == 2 and "setting 'groups' must be one of 1, 2, 3, 4, 8; got 5" in r.err


def test_sample_is_seeded_distinct_and_exact(cli):
    args = ["sweep", SPEC, "--grid", "width=0.25:1.5:0.01", "--grid", "resolution=96:320:1",
            "--sample", "25", "--seed", "7", "--format", "csv"]
    r = cli(*args)
    assert r.code == 0, r.err
    rows = csv_rows(r.out)
    assert len(rows) == 25 and r.out == cli(*args).out                      # same seed, same rows
    keys = [(float(x["width"]), int(x["resolution"])) for x in rows]
    assert len(set(keys)) == 25 and keys == sorted(keys)                    # distinct, grid order
    assert cli(*args[:-4], "--sample", "25", "--seed", "8", "--format", "csv").out != r.out
    for x, (w, res) in zip(rows, keys):
        assert int(x["mult_adds"]) == mobilenet_v1_by_hand(w, res)[0]
        assert int(x["weights"]) == mobilenet_v1_by_hand(w, res)[1]


def test_where_keeps_exactly_the_matching_points(cli):
    widths = [round(0.25 + 0.05 * i, 2) for i in range(26)]
    resolutions = list(range(96, 321, 16))
    r = cli("sweep", SPEC, "--grid", "width=0.25:1.5:0.05", "--grid", "resolution=96:320:16",
            "--where", "mult_adds < 300e6 and weights < 2e6 or resolution == 320 and width >= 1.45",
            "--format", "csv")
    assert r.code == 0, r.err
    want = []
    for w in widths:
        for res in resolutions:
            macs, weights = mobilenet_v1_by_hand(w, res)
            if macs < 300e6 and weights < 2e6 or res == 320 and w >= 1.45:
                want.append((w, res, macs))
    got = [(float(x["width"]), int(x["resolution"]), int(x["mult_adds"])) for x in csv_rows(r.out)]
    assert got == want and len(want) > 20


def test_pareto_keeps_the_non_dominated_points(cli):
    r = cli("sweep", SPEC, "--grid", "width=0.25:1.5:0.05", "--grid", "resolution=96:320:32",
            "--pareto", "mult_adds,-width", "--where", "resolution != 96", "--format", "json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["pareto"] == ["mult_adds", "-width"] and data["where"] == "resolution != 96"
    got = {(p["width"], p["resolution"]) for p in data["points"]}
    pts = [(round(0.25 + 0.05 * i, 2), res) for i in range(26) for res in range(128, 321, 32)]
    cost = {p: mobilenet_v1_by_hand(*p)[0] for p in pts}
    # brute force: p survives when no q is as cheap and as wide, and better on one of them
    front = {p for p in pts if not any(cost[q] <= cost[p] and q[0] >= p[0] and
                                       (cost[q] < cost[p] or q[0] > p[0]) for q in pts)}
    assert got == front and all(res == 128 for _, res in front)


def test_streamed_formats_hold_the_same_rows(cli, tmp_path):
    grid = ["--grid", "width=0.25:1.5:0.0125", "--grid", "resolution=96:320:2", "--stream"]
    r = cli("sweep", SPEC, *grid, "--out", tmp_path / "s.csv")      # 101 x 113 > the limit
    assert r.code == 0, r.err
    rows = csv_rows((tmp_path / "s.csv").read_text())
    assert len(rows) == 101 * 113 > MAX_POINTS
    assert list(rows[0]) == ["width", "resolution", *sweep.METRICS]
    for x in rows[::997]:
        w, res = float(x["width"]), int(x["resolution"])
        assert (int(x["mult_adds"]), int(x["weights"])) == mobilenet_v1_by_hand(w, res)
    assert cli("sweep", SPEC, *grid, "--out", tmp_path / "s.jsonl").code == 0
    lines = (tmp_path / "s.jsonl").read_text().splitlines()
    assert [json.loads(lines[i]) for i in (0, 5000, -1)] == \
        [{k: (float(v) if k == "width" else int(v)) for k, v in rows[i].items()} for i in (0, 5000, -1)]
    import pyarrow.parquet as pq                    # the 'parquet' extra (in the test extra)
    assert cli("sweep", SPEC, *grid, "--out", tmp_path / "s.parquet").code == 0
    table = pq.read_table(tmp_path / "s.parquet").to_pylist()
    assert len(table) == len(rows) and table[1234] == json.loads(lines[1234])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.csv", "s.jsonl", "s.parquet"]


def test_a_failing_point_leaves_the_previous_file(cli, write_spec, tmp_path):
    path = write_spec("""
        name: g
        settings: {width: 1.0}
        input: [4, 8, 8]
        layers:
          - {op: conv2d, out: "int(8 * width)", kernel: 3, groups: 4}
        """)
    out = tmp_path / "g.csv"
    out.write_text("old\n")
    r = cli("sweep", path, "--grid", "width=1.0,0.5,0.75", "--out", out)   # 6 filters / 4 groups
    assert r.code == 2 and "groups (4) must divide the output channels (6)" in r.err
    assert out.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == \
        ["g.csv", "spec.yaml"]


def test_local_processes_give_the_same_rows(cli):
    grid = ["sweep", SPEC, "--grid", "width=0.25:1.5:0.05", "--grid", "resolution=96:320:8",
            "--format", "csv"]
    one = cli(*grid)
    two = cli(*grid, "--jobs", "2")
    assert one.code == two.code == 0 and one.out == two.out and len(csv_rows(one.out)) == 26 * 29


def test_chunks_are_the_same_work_on_every_backend():
    plan = sweep.Plan(SPEC, {"width": ["0.25:1.5:0.25"], "resolution": ["96:224:64"]}, chunk=4)
    chunks = plan.chunks()
    assert len(chunks) > 2        # several independent tasks, each a picklable Chunk
    serial = [backends.run_chunk(c) for c in chunks]
    fake = FakeRay()
    mapped = list(_fake_backend(fake).map(backends.run_chunk, chunks))
    assert fake.calls == len(chunks)
    assert [{k: list(v) for k, v in c.items()} for c in mapped] == \
        [{k: list(v) for k, v in c.items()} for c in serial]


class FakeRay:
    """The part of Ray's API the backend uses: remote functions, object refs, get."""

    def __init__(self, fail: Exception | None = None):
        self.fail, self.calls, self.initialised = fail, 0, False

    def is_initialized(self):
        return self.initialised

    def init(self, address=None, **kw):
        if self.fail:
            raise self.fail
        self.initialised = True

    def cluster_resources(self):
        return {"CPU": 2.0}

    def remote(self, fn):
        ray = self

        class Remote:
            def remote(self, item):
                ray.calls += 1
                return ("ref", fn(item))
        return Remote()

    def get(self, ref):
        return ref[1]


def _fake_backend(fake):
    b = backends.Ray.__new__(backends.Ray)
    b.ray, b.workers, b._remote = fake, 2, {}
    return b


def test_ray_missing_or_no_cluster_exit_2(cli, monkeypatch):
    real = backends.extras.missing
    monkeypatch.setattr(backends.extras, "missing",
                        lambda extra: ["ray"] if extra == "ray" else real(extra))
    r = cli("sweep", SPEC, "--grid", "width=0.5", "--backend", "ray")
    assert r.code == 2 and "--backend ray needs the 'ray' extra (ray not installed)" in r.err
    monkeypatch.setattr(backends.extras, "missing", real)
    fake = FakeRay(fail=ConnectionError("Could not find any running Ray instance"))
    monkeypatch.setitem(sys.modules, "ray", types.SimpleNamespace(
        is_initialized=fake.is_initialized, init=fake.init))
    monkeypatch.setattr(backends.extras, "need", lambda extra, what: None)
    r = cli("sweep", SPEC, "--grid", "width=0.5", "--backend", "ray", "--address", "10.0.0.9:6379")
    assert r.code == 2
    assert "--backend ray: no Ray cluster at --address 10.0.0.9:6379 (ConnectionError" in r.err


def test_ray_on_a_local_instance_matches_the_local_run(cli):
    import ray                              # the 'ray' extra (in the test extra)
    grid = ["sweep", SPEC, "--grid", "width=0.25:1.5:0.25", "--grid", "resolution=96:224:32",
            "--format", "csv"]
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": backends._pythonpath()})
    try:
        remote = cli(*grid, "--backend", "ray")
    finally:
        ray.shutdown()
    local = cli(*grid)
    assert remote.code == 0, remote.err
    assert remote.out == local.out and len(csv_rows(local.out)) == 6 * 5
