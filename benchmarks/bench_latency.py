"""How well does the calibrated cost model predict measured latency, against mult-adds alone?

In one run, on this machine (torch eager, CPU, fp32, batch 1, ``--threads`` threads):

1. calibrate a device profile on ``costmodel calibrate``'s synthetic networks only (chains of
   cells, single layers, staged and whole mobile networks; never a network below), or load
   one with ``--profile FILE``;
2. for at least 40 configurations (every zoo spec at its defaults, and width, resolution,
   group and scale variants) predict the latency (``costmodel latency``) and measure it
   (windows of consecutive passes against the reference network timed between them, as
   calibration times its networks, and ``costmodel bench``'s median pass) in ``--rounds`` rounds, each round in a fresh process
   and each job in a child of its own (``costmodel.latency.rounds``), keeping the median over
   the rounds. The configurations are shuffled in with the calibration's networks, in the
   same rounds, so both see the machine in the same state: its speed drifted by up to 13%
   within an hour here, and what ran before a job changes its time (in a fixed order the
   configurations ran 6% slower, median, than shuffled; the earlier design, zoo rounds of
   their own in a fixed order alternating with calibration's, put the zoo 5-9% under);
3. print, for the model, for the one-constant mult-adds baseline and for the measurement
   against itself (``repeatability``: each configuration's odd rounds against its even rounds,
   the run's noise ceiling, with the spread of its rounds) side by side: Spearman's rank
   correlation, the mean absolute percentage error, and the share of configurations within
   10% and within 20% of the measured time; then the worst configurations and the layers with
   the largest absolute error (per-layer hook timings). Where the halves agree within 10% for
   fewer than 90% of the configurations, the run says the target cannot be judged on it.

The baseline's constant (seconds per mult-add) is the median over the configurations of
measured / mult-adds: fitted on the very configurations it is scored on, so it is an
optimistic baseline. Accuracy is scored against the drift-corrected time, as calibration times
its networks (``costmodel.latency.drift``): per round, the median over a configuration's 10 ms
windows of passes of the window's time over the mean of the reference network's 5 ms windows
on either side; the median over the rounds' processes; times the reference's fastest window in
the run. The shared machine's speed moves in phases the whole length of a round, which the
fastest window of a round cannot drop and the ratio cancels. Then, for comparison, without the
correction: against the median over the rounds of the fastest window of calls in each (the
model refitted on the synthetic networks' fastest windows), and of the median pass.

    python benchmarks/bench_latency.py [--threads 1] [--quick] [--profile FILE] [--budget 1.5]
                                       [--rounds 5] [--save-profile FILE]
                                       [--save-measurements FILE] [--measurements FILE]

``--save-measurements FILE`` writes every timing of the run (each synthetic network's and each
configuration's, with the per-layer hook timings) to a JSON file; ``--measurements FILE`` then
refits and rescores from that file without timing anything, so that two versions of the model
are compared on the very same measurements (the machine's own noise between runs is of the size
of the model's error).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402

from costmodel.count.profile import Spec  # noqa: E402
from costmodel.latency import calibrate as cal  # noqa: E402
from costmodel.latency import devices  # noqa: E402
from costmodel.latency.bench import machine, threads as with_threads, time_call  # noqa: E402
from costmodel.latency.predict import predict  # noqa: E402
from costmodel.latency.rounds import job  # noqa: E402
from costmodel.output.atomic import write_atomic  # noqa: E402
from costmodel.output.tabular import Column, Tabular  # noqa: E402
from costmodel.papers.rank import spearman  # noqa: E402

MEASUREMENTS_FORMAT = 3

# the timings each configuration keeps per round (keys of its entry in ``best`` and of its row),
# the prediction each is scored against, and its title: the model fitted to drift-corrected
# samples for the drift-corrected time, the one fitted to uncorrected samples for the others
MEASURED = (("corrected", "pred", "drift-corrected (ratio to the reference network x its fastest window)"),
            ("windows", "pred_raw", "fastest window, uncorrected"),
            ("medians", "pred_raw", "median pass, uncorrected"))

# (spec, settings): every zoo spec at its defaults, then variants
CONFIGS: list[tuple[str, dict]] = [
    ("alexnet", {}), ("ghost_resnet50", {}), ("ghost_resnet56_cifar", {}), ("ghost_vgg16_cifar", {}),
    ("ghostnet", {}), ("googlenet", {}), ("mobilenet_v1", {}), ("mobilenet_v2", {}),
    ("mobilenet_v3_large", {}), ("mobilenet_v3_small", {}), ("resnet50", {}), ("resnet56_cifar", {}),
    ("shufflenet_v1", {}), ("shufflenet_v2", {}), ("squeezenet", {}), ("vgg16", {}), ("vgg16_cifar", {}),
    ("mobilenet_v1", {"width": 0.5}), ("mobilenet_v1", {"width": 0.25}), ("mobilenet_v1", {"width": 0.75, "resolution": 192}),
    ("mobilenet_v1", {"resolution": 160}), ("mobilenet_v1", {"resolution": 128}),
    ("mobilenet_v1", {"width": 0.5, "resolution": 224}), ("mobilenet_v1", {"width": 0.5, "resolution": 128}),
    ("mobilenet_v2", {"width": 0.5}), ("mobilenet_v2", {"width": 1.4}), ("mobilenet_v2", {"resolution": 160}),
    ("mobilenet_v2", {"width": 0.75, "resolution": 128}),
    ("mobilenet_v3_large", {"width": 0.75}), ("mobilenet_v3_small", {"width": 0.75}),
    ("mobilenet_v3_large", {"resolution": 160}),
    ("shufflenet_v1", {"groups": 1}), ("shufflenet_v1", {"groups": 2}), ("shufflenet_v1", {"groups": 4}),
    ("shufflenet_v1", {"groups": 8}), ("shufflenet_v1", {"scale": 0.5}), ("shufflenet_v1", {"scale": 0.5, "groups": 8}),
    ("shufflenet_v2", {"scale": 0.5}), ("shufflenet_v2", {"scale": 1.5}), ("shufflenet_v2", {"scale": 2.0}),
    ("shufflenet_v2", {"resolution": 160}),
    ("ghostnet", {"width": 0.5}), ("ghostnet", {"width": 1.3}), ("ghostnet", {"resolution": 160}),
    ("ghost_resnet56_cifar", {"ratio": 4}), ("resnet56_cifar", {"depth": 20}), ("resnet56_cifar", {"depth": 110}),
    ("squeezenet", {"version": 1.1}), ("googlenet", {"resolution": 160}), ("resnet50", {"resolution": 160}),
]


def scores(pred: list[float], meas: list[float]) -> dict:
    err = [abs(p - m) / m for p, m in zip(pred, meas)]
    return {"spearman": spearman(pred, meas) or 0.0, "mape": statistics.fmean(err),
            "w10": sum(e <= 0.10 for e in err) / len(err), "w20": sum(e <= 0.20 for e in err) / len(err)}


def halves(rounds: list[float]) -> tuple[float, float]:
    """Two independent measurements of one network from one run: the median of its odd rounds
    (1st, 3rd, ...) and of its even rounds (2nd, 4th, ...)."""
    return statistics.median(rounds[0::2]), statistics.median(rounds[1::2])


def repeatability(per_network: list[list[float]]) -> dict | None:
    """How well the run's measurements agree with themselves: the odd rounds' median scored
    against the even rounds' (``scores``), and the median over networks of the spread of its
    rounds (slowest / fastest). No predictor can agree with a measurement much better than
    the measurement agrees with itself, so this is the noise ceiling of the run (a pessimistic
    one: each half has half the rounds, so more noise than their median over all). None with
    fewer than 2 rounds."""
    timed = [r for r in per_network if len(r) >= 2]
    if not timed:
        return None
    pairs = [halves(r) for r in timed]
    out = scores([a for a, _ in pairs], [b for _, b in pairs])
    out["spread"] = statistics.median(max(r) / min(r) for r in timed)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="quick calibration (calibrate --quick)")
    ap.add_argument("--rounds", type=int, default=cal.ROUNDS,
                    help=f"rounds of calibration and measurement, shuffled together (default {cal.ROUNDS})")
    ap.add_argument("--profile", help="use this device profile instead of calibrating")
    ap.add_argument("--budget", type=float, default=1.5, help="seconds of timed passes per configuration")
    ap.add_argument("--limit", type=int, default=0, help="only the first N configurations")
    ap.add_argument("--save-profile", metavar="FILE", help="write the profile calibrated in this "
                    "run to FILE (atomically), named after the file's stem")
    ap.add_argument("--save-measurements", metavar="FILE", help="write every timing of this run "
                    "to FILE (JSON, atomically)")
    ap.add_argument("--measurements", metavar="FILE", help="time nothing: refit and rescore "
                    "the timings a --save-measurements run wrote")
    args = ap.parse_args()
    con = Console(width=160)
    t0 = time.perf_counter()
    configs = CONFIGS[: args.limit] if args.limit else CONFIGS
    rows = []
    layer_errs = []
    profiles = [(name, settings, Spec.load(name).profile(**settings)) for name, settings in configs]
    best: list[dict] = [{} for _ in profiles]
    nets = cal.networks(args.quick)
    # The zoo's jobs run in calibration's rounds, shuffled in with its networks, so both see
    # the same machine: load that comes and goes then spoils neither side alone.

    def zoo_jobs(rnd: int) -> list[dict]:
        # half the budget for windows, the other half for the median pass (bench.measure)
        return [job(name, settings, args.budget / 2 / args.rounds, median=True,
                    per_layer=rnd == args.rounds - 1) for name, settings, _ in profiles]

    def zoo_done(i: int, rnd: int, r: dict) -> None:
        b = best[i]
        b.setdefault("ratios", []).append(r["ratio"])
        b.setdefault("windows", []).append(min(r["windows"]))
        b.setdefault("medians", []).append(r["median"])
        if "layers" in r:
            b["layers"] = r["layers"]
        name, settings, _ = profiles[i]
        con.print(f"round {rnd + 1}/{args.rounds}: {name} {settings or ''}: "
                  f"{r['ratio']:.2f}x the reference network (fastest of {len(r['windows'])} "
                  f"windows of calls: {min(r['windows']) * 1e3:.2f} ms; "
                  f"{time.perf_counter() - t0:.0f} s)")

    samples: list[cal.Sample] = []
    if args.measurements:
        saved = json.loads(Path(args.measurements).read_text())
        if saved.get("format") != MEASUREMENTS_FORMAT:
            sys.exit(f"{args.measurements} is not in this script's measurement format "
                     f"{MEASUREMENTS_FORMAT} (per-round timings against the reference network, "
                     "each round in its own process)")
        if saved["quick"] != args.quick or saved["configs"] != [[n, s] for n, s, _ in profiles]:
            sys.exit(f"{args.measurements} was measured with other configurations or --quick")
        best, reference_s = saved["best"], saved["reference_s"]
        if not args.profile:
            times = {s["label"]: (s["time_s"], s["rounds"], s["raw"]) for s in saved["samples"]}
            if set(times) != {n.label for n in nets}:
                sys.exit(f"{args.measurements} timed another set of synthetic networks")
            samples = [cal.sample(n, *times[n.label]) for n in nets]
        con.print(f"measurements: {args.measurements} ({saved['machine']['cpu']}, {saved['when']}; "
                  "nothing timed in this run)")
    else:       # with --profile, the zoo's jobs alone, in the same shuffled rounds
        budget = cal.QUICK_BUDGET_S if args.quick else cal.BUDGET_S
        timed = cal.measure_all([] if args.profile else nets, args.threads, budget,
                                args.rounds, extra=zoo_jobs, on_extra=zoo_done)
        samples, reference_s = timed.samples, timed.reference_s
    for b in best:      # ratios to the reference, in seconds at the machine's quiet speed
        b["corrected"] = [x * reference_s for x in b["ratios"]]
    if args.save_measurements and not args.measurements:
        with with_threads(args.threads):
            info = machine()
        write_atomic(args.save_measurements, json.dumps({
            "format": MEASUREMENTS_FORMAT, "machine": info,
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "quick": args.quick, "rounds": args.rounds, "threads": args.threads,
            "configs": [[n, s] for n, s, _ in profiles], "reference_s": reference_s,
            "best": [{k: v for k, v in b.items() if k != "corrected"} for b in best],
            "samples": [{"label": s.label, "time_s": s.time_s, "rounds": list(s.rounds),
                         "raw": list(s.raw)} for s in samples]}, indent=1) + "\n")
        con.print(f"wrote {args.save_measurements}")
    con.print(f"reference network: {reference_s * 1e3:.3f} ms at its fastest window in the run "
              "(the scale of every drift-corrected time)")
    if args.profile:
        dev = raw_dev = devices.load_file(args.profile)
        con.print(f"profile: {args.profile} (not calibrated in this run)")
    else:
        f = cal.fit(samples)
        name = Path(args.save_profile).stem if args.save_profile else "bench"
        dev = cal.make_profile(name, f, args.threads, args.quick, args.rounds, len(samples),
                               by="`python benchmarks/bench_latency.py --save-profile` (its "
                                  "measurements of the zoo, which the fit never sees, shuffled "
                                  "into the same rounds)", reference_s=reference_s,
                               torch_version=saved["machine"]["torch"] if args.measurements else "",
                               calibrated=saved["when"] if args.measurements else "")
        if args.save_profile:
            write_atomic(args.save_profile, cal.dump(dev))
            con.print(f"wrote {args.save_profile}")
        con.print(f"calibrated on {len(samples)} synthetic networks (median over {args.rounds} processes); "
                  f"fit error {100 * f.mape:.1f}% (mean), {100 * f.within_10:.0f}% within 10%")
        # the same fit on the uncorrected fastest windows: the timing without drift correction
        raw_samples = [cal.Sample(s.net, s.kernels, statistics.median(s.raw), s.raw) for s in samples]
        raw_dev = cal.make_profile(name + "-raw", cal.fit(raw_samples), args.threads, args.quick,
                                   args.rounds, len(samples), by="the benchmark, uncorrected")
        for what, ss in (("drift-corrected", samples), ("uncorrected fastest windows", raw_samples)):
            srep = repeatability([list(s.rounds) for s in ss])
            if srep is not None:
                con.print(f"their own noise ({what}): rounds spread by x{srep['spread']:.2f} "
                          f"(median); odd rounds' median against even rounds': "
                          f"{100 * srep['mape']:.1f}% (mean), {100 * srep['w10']:.0f}% within 10%")
    for (name, settings, p), b in zip(profiles, best):
        pr = predict(p, dev)
        label = name + ("" if not settings else " " + ",".join(f"{k}={v}" for k, v in settings.items()))
        rows.append({"label": label, "mult_adds": p.mult_adds, "pred": pr.time_s,
                     "pred_raw": predict(p, raw_dev).time_s,
                     **{key: statistics.median(b[key]) for key, _, _ in MEASURED}})
        by = {l.traffic.name: l for l in pr.layers}
        # the hook timings (the last round's) at the quiet speed: scaled by that round's
        # drift-corrected time over its median pass
        scale = b["corrected"][-1] / b["medians"][-1]
        for l in b["layers"]:
            layer_errs.append((label, l["name"], l["type"], l["time_s"] * scale,
                               by[l["name"]].time_s, by[l["name"]].bound))
        con.print(f"{label}: measured {rows[-1]['corrected'] * 1e3:.2f} ms (drift-corrected, median "
                  f"over {len(b['windows'])} processes; uncorrected: fastest window "
                  f"{rows[-1]['windows'] * 1e3:.2f}, median pass {rows[-1]['medians'] * 1e3:.2f}), "
                  f"predicted {pr.time_s * 1e3:.2f} ms")
    for ref, pred, what in MEASURED:
        meas = [r[ref] for r in rows]
        k = statistics.median(r[ref] / r["mult_adds"] for r in rows)
        model = scores([r[pred] for r in rows], meas)
        base = scores([k * r["mult_adds"] for r in rows], meas)
        t = Tabular(title=f"{len(rows)} configurations, measured = {what} (median over "
                          f"processes), {args.threads} thread(s), batch 1, fp32",
                    columns=[Column("Predictor", "left"), Column("Spearman"), Column("MAPE"),
                             Column("within 10%"), Column("within 20%")])
        rep = repeatability([b[ref] for b in best])
        model_name = (f"{dev.model} model (calibrated on synthetic networks"
                      + (", drift-corrected)" if ref == "corrected" else
                         ", uncorrected fastest windows)" if not args.profile else ")"))
        for nm, s in ((model_name, model),
                      (f"mult-adds x {k * 1e9:.3f} ns (one constant)", base),
                      ("the measurement itself: odd rounds' median against even rounds'", rep)):
            if s is not None:
                t.add([nm, f"{s['spearman']:.3f}", f"{100 * s['mape']:.1f}%",
                       f"{100 * s['w10']:.0f}%", f"{100 * s['w20']:.0f}%"])
        con.print(t.to_rich())
        if rep is not None and ref == "corrected":
            con.print(f"noise: a configuration's rounds spread by x{rep['spread']:.2f} (median, "
                      f"slowest / fastest); its two halves agree within 10% for "
                      f"{100 * rep['w10']:.0f}% of configurations")
            if rep["w10"] < 0.9:
                con.print(f"[bold]this run's measurements repeat within 10% for only "
                          f"{100 * rep['w10']:.0f}% of configurations: the 90%-within-10% "
                          f"target cannot be judged on it[/bold] (a quieter machine, or more "
                          f"--rounds)")
    t = Tabular(title="configurations by error of the model (against the drift-corrected time)",
                columns=[Column("Configuration", "left"), Column("Mult-adds (M)"),
                         Column("Measured (ms)"), Column("Predicted (ms)"), Column("Error")])
    for r in sorted(rows, key=lambda r: -abs(r["pred"] - r["corrected"]) / r["corrected"]):
        t.add([r["label"], f"{r['mult_adds'] / 1e6:,.1f}", f"{r['corrected'] * 1e3:.2f}",
               f"{r['pred'] * 1e3:.2f}", f"{100 * (r['pred'] - r['corrected']) / r['corrected']:+.1f}%"])
    con.print(t.to_rich())
    t = Tabular(title="layers with the largest absolute error (hook timings of the median pass, "
                      "drift-corrected as their configuration)",
                columns=[Column("Configuration", "left"), Column("Layer", "left"),
                         Column("Type", "left"), Column("Bound", "left"), Column("Measured (us)"),
                         Column("Predicted (us)"), Column("Error")])
    for lab, name, typ, mt, pt, bound in sorted(layer_errs, key=lambda e: -abs(e[4] - e[3]))[:15]:
        t.add([lab, name, typ, bound, f"{mt * 1e6:,.0f}", f"{pt * 1e6:,.0f}",
               f"{100 * (pt - mt) / mt:+.0f}%" if mt else "-"])
    con.print(t.to_rich())
    # error by type, summed over every configuration
    types: dict[str, list[float]] = {}
    for _, _, typ, mt, pt, _ in layer_errs:
        a = types.setdefault(typ, [0.0, 0.0])
        a[0] += mt
        a[1] += pt
    t = Tabular(title="per layer type, summed over all configurations",
                columns=[Column("Type", "left"), Column("Measured (ms)"), Column("Predicted (ms)"),
                         Column("Error")])
    for typ, (mt, pt) in sorted(types.items(), key=lambda kv: -kv[1][0])[:15]:
        t.add([typ, f"{mt * 1e3:,.1f}", f"{pt * 1e3:,.1f}", f"{100 * (pt - mt) / mt:+.1f}%" if mt else "-"])
    con.print(t.to_rich())
    # how long `costmodel latency mobilenet_v2` takes in-process (no torch): the profile, then
    # the prediction on the profile, each the fastest of 20
    mnv2 = Spec.load("mobilenet_v2").profile()
    t_prof = min(time_call(lambda: Spec.load("mobilenet_v2").profile(), 20, 0))
    t_pred = min(time_call(lambda: predict(mnv2, dev).to_dict(), 20, 0))
    con.print(f"in-process, MobileNetV2: spec load + profile {t_prof * 1e3:.2f} ms, prediction "
              f"(predict + JSON dict) {t_pred * 1e3:.2f} ms")
    con.print(f"total run time {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
