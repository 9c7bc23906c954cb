"""Device profiles: the data the roofline prediction runs on.

A profile is a YAML file (read with the spec loader: safe YAML, size limits, line numbers), one
per device, thread count and dtype. Schema (format 2; format 1 files, the same without
``model`` and the per-class bandwidths, still load, as roofline profiles)::

    format: 2                     # profile format; a newer one is refused with a clear message
    name: epyc-2c-1t              # what `--device NAME` finds (the file's stem for shipped ones)
    description: free text
    kind: cpu                     # cpu | gpu
    dtype: fp32                   # the dtype the constants hold for
    threads: 1                    # intra-op threads during calibration
    batch: 1                      # batch of the microbenchmarks
    torch: 2.13.0+cpu             # torch version that ran them (informative)
    cpu: AMD EPYC                 # CPU or GPU model (informative)
    calibrated: "2026-12-01T23:50:00Z"
    method: free text (how the constants were obtained)
    model: additive               # additive | roofline (default roofline), see below
    memory_bandwidth: 2.0e+10     # bytes/s, for every class that gives none of its own
    weight_cache_bytes: 1.0e+06   # optional, with cold_bandwidth: see below
    cold_bandwidth: 8.0e+10
    kernel_cache_bytes: 1.0e+06   # optional, with spill_bandwidth: see below
    spill_bandwidth: 4.0e+10
    llc_bytes: 6.4e+07            # optional, with dram_bandwidth: see below
    dram_bandwidth: 3.6e+10
    classes:                      # these eleven, no others (KERNEL_CLASSES in ops/base.py)
      conv:          {peak_flops: 4.0e+10, overhead_s: 2.0e-05, memory_bandwidth: 3.0e+10,
                      fit_mape: 0.06, samples: 16}
      conv_small:    {...}        # optional: absent, priced as conv
      conv1x1:       {...}
      grouped:       {...}
      depthwise:     {...}
      linear:        {...}
      elementwise:   {...}
      pooling:       {...}
      avg_pool:      {...}        # optional: absent, priced as pooling
      global_pool:   {...}
      data_movement: {...}

``peak_flops`` (FLOP/s, a multiply-accumulate counting 2) and ``overhead_s`` (seconds per
kernel) are required and must be positive; ``memory_bandwidth`` (bytes/s) is optional per class,
and so are ``weight_bandwidth`` (what the class's weights are read at; absent: its memory
bandwidth) and ``scratch_bandwidth`` (a kernel's own scratch buffer, written and read back, such
as the im2col matrix of torch's native conv; absent: not priced);
``fit_mape`` and ``samples`` (the calibration's fit error and sample count) are optional.
Numbers may be written 2e10 or 2.0e+10.

The two models price a kernel of F FLOPs and B bytes as

    roofline:  overhead_s + max(F / peak_flops, B / memory_bandwidth)
    additive:  overhead_s + F / peak_flops + B / memory_bandwidth

where B / memory_bandwidth stands for activations / memory_bandwidth + weights /
weight_bandwidth + 2 x scratch / scratch_bandwidth (each in bytes), plus, in a profile with
``weight_cache_bytes`` and ``cold_bandwidth``, m x (activations + weights) / cold_bandwidth,
with m = max(0, 1 - weight_cache_bytes / the network's weight bytes). The working set: the
weights of a small network stay in the cache from one pass to the next, and so do the
activations each layer hands the next; a network whose weights exceed the cache streams them
from memory every pass, and that stream evicts its activations too (measured on an Intel Xeon:
the same 1x1 conv, batch norm and depthwise layers ran 10-16% slower inside MobileNetV2 than in
a chain of four MobileNetV2 blocks whose weights fit the cache). And in a profile with
``kernel_cache_bytes`` and ``spill_bandwidth``, a kernel whose own footprint (F = its
activation and weight bytes) exceeds kernel_cache_bytes moves (1 - kernel_cache_bytes / F) x
its activation bytes at spill_bandwidth too: the part of its data that no longer fits the
cache a layer hands the next one's input in (measured on an Intel Xeon with 2 MB of L2 per
core: eight ReLUs on a 1.8 MB map took 129 us each, 3.6 GB/s read and written, while on a
0.2 MB map their cost was all overhead). And in a profile with ``llc_bytes`` and
``dram_bandwidth`` (the last-level cache), a network whose weights exceed llc_bytes reads
d = max(0, 1 - llc_bytes / its weight bytes) of every kernel's weight bytes at dram_bandwidth
too: from memory itself, past every cache (AlexNet's and VGG-16's 16-411 MB linear layers).

(`costmodel calibrate` writes additive profiles; costmodel/latency/calibrate.py says why).
"""
from __future__ import annotations

import difflib
import math
import os
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, ValidationError

from costmodel.spec.messages import nested_line
from costmodel.count.dtypes import DTYPE_BYTES
from costmodel.errors import SpecError
from costmodel.ops.base import KERNEL_CLASSES
from costmodel.spec.loader import read_spec_file

FORMAT = 2
READABLE = (1, 2)
MODELS = ("roofline", "additive")
DEVICES_DIR = Path(__file__).resolve().parent / "devices"
MAX_NUMBER = 1e18


def _number(v: Any) -> float:
    """A finite number; YAML 1.1 reads ``2e10`` (no dot) as a string, so numeric strings of
    that form are accepted too. Booleans and other strings are refused."""
    if isinstance(v, bool):
        raise ValueError("must be a number, not a boolean")
    if isinstance(v, str):
        try:
            v = float(v)
        except ValueError:
            raise ValueError("must be a number") from None
    if not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ValueError("must be a finite number")
    if v > MAX_NUMBER:
        raise ValueError(f"must be at most {MAX_NUMBER:g}")
    return float(v)


Positive = Annotated[float, BeforeValidator(_number), Field(gt=0)]
NonNegative = Annotated[float, BeforeValidator(_number), Field(ge=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ClassProfile(_Strict):
    peak_flops: Positive
    overhead_s: Positive
    memory_bandwidth: Optional[Positive] = None
    weight_bandwidth: Optional[Positive] = None     # absent: weights at memory_bandwidth
    scratch_bandwidth: Optional[Positive] = None    # absent: scratch traffic not priced
    fit_mape: Optional[NonNegative] = None
    samples: Optional[Annotated[int, Field(ge=1, le=1_000_000)]] = None


# The caches (format 2 only): for each, both fields or neither.
CACHES = (("weight_cache_bytes", "cold_bandwidth"), ("kernel_cache_bytes", "spill_bandwidth"),
          ("llc_bytes", "dram_bandwidth"))
CACHE_FIELDS = tuple(k for pair in CACHES for k in pair)


def miss_share(footprint: float, cache: float | None) -> float:
    """The share of a ``footprint`` of bytes that a cache of ``cache`` bytes does not hold:
    max(0, 1 - cache / footprint); 0 without a cache."""
    return 0.0 if cache is None or footprint <= cache else 1.0 - cache / footprint


# A class's own bandwidths (format 2 only): every one optional.
CLASS_BANDWIDTHS = ("memory_bandwidth", "weight_bandwidth", "scratch_bandwidth")


class Classes(_Strict):
    conv: ClassProfile
    conv_small: Optional[ClassProfile] = None    # absent: priced as conv (see FALLBACK)
    conv1x1: ClassProfile
    grouped: ClassProfile
    depthwise: ClassProfile
    linear: ClassProfile
    elementwise: ClassProfile
    pooling: ClassProfile
    avg_pool: Optional[ClassProfile] = None      # absent: priced as pooling (see FALLBACK)
    global_pool: ClassProfile
    data_movement: ClassProfile


assert set(Classes.model_fields) == set(KERNEL_CLASSES), "device classes out of step with ops"

# Classes added after format 2 first shipped: a profile without one prices its kernels as the
# class named here (the profiles calibrated before them had one class for both).
FALLBACK = {"conv_small": "conv", "avg_pool": "pooling"}

Text = Annotated[str, Field(max_length=2000)]


class DeviceProfile(_Strict):
    format: Annotated[int, Field(ge=1)]
    name: Annotated[str, Field(min_length=1, max_length=100)]
    description: Text = ""
    kind: Literal["cpu", "gpu"]
    dtype: Literal["fp32", "fp16", "bf16", "int8"]
    threads: Annotated[int, Field(ge=1, le=4096)]
    batch: Annotated[int, Field(ge=1, le=65536)] = 1
    torch: Text = ""
    cpu: Text = ""
    calibrated: Text = ""
    method: Text = ""
    model: Literal["roofline", "additive"] = "roofline"
    memory_bandwidth: Positive
    weight_cache_bytes: Optional[Positive] = None       # both or neither (see parse)
    cold_bandwidth: Optional[Positive] = None
    kernel_cache_bytes: Optional[Positive] = None       # both or neither
    spill_bandwidth: Optional[Positive] = None
    llc_bytes: Optional[Positive] = None                # both or neither
    dram_bandwidth: Optional[Positive] = None
    classes: Classes

    _file: str = PrivateAttr("")

    @property
    def file(self) -> str:
        return self._file

    def cls(self, name: str) -> ClassProfile:
        own = getattr(self.classes, name)
        return getattr(self.classes, FALLBACK[name]) if own is None else own

    def bandwidth(self, name: str) -> float:
        """The memory bandwidth of class ``name``: its own, else the profile's."""
        own = self.cls(name).memory_bandwidth
        return self.memory_bandwidth if own is None else own

    def weight_bandwidth(self, name: str) -> float:
        """The bandwidth class ``name``'s weights are read at: its own, else its memory
        bandwidth (weights are read once a pass and rarely still in cache; activations
        usually are, which is why a calibrated profile tells them apart)."""
        own = self.cls(name).weight_bandwidth
        return self.bandwidth(name) if own is None else own

    def scratch_bandwidth(self, name: str) -> float | None:
        """The bandwidth of class ``name``'s scratch traffic (``Kernel.scratch``, written and
        read back); None: not priced (profiles calibrated without it)."""
        return self.cls(name).scratch_bandwidth

    def weight_miss(self, weight_bytes: float) -> float:
        """The share m of a network's memory traffic that misses the cache, from its
        ``weight_bytes`` (0 in a profile without a weight cache; see the module doc)."""
        return miss_share(weight_bytes, self.weight_cache_bytes)

    def dram_share(self, weight_bytes: float) -> float:
        """The share d of a network's weights read from memory past the last-level cache
        (0 in a profile without one)."""
        return miss_share(weight_bytes, self.llc_bytes)

    def label(self) -> str:
        return f"{self.name} ({self.kind}, {self.threads} thread{'s' * (self.threads != 1)}, {self.dtype})"


assert set(DeviceProfile.model_fields["dtype"].annotation.__args__) == set(DTYPE_BYTES)


def known() -> list[str]:
    return sorted(p.stem for p in DEVICES_DIR.glob("*.yaml"))


def _message(err: dict) -> str:
    loc = ".".join(str(p) for p in err["loc"])
    etype = err["type"]
    if etype == "extra_forbidden":
        if len(err["loc"]) == 2 and err["loc"][0] == "classes":
            return (f"unknown op class {err['loc'][1]!r}{_close(str(err['loc'][1]), KERNEL_CLASSES)}; "
                    f"classes: {', '.join(KERNEL_CLASSES)}")
        return f"unknown field {loc!r}"
    if etype == "missing":
        return f"missing field {loc!r}"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    return f"field {loc!r}: {msg[0].lower() + msg[1:]} (got {err.get('input')!r})"


def _close(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def parse(raw: Any, file: str) -> DeviceProfile:
    if not isinstance(raw, dict):
        raise SpecError("a device profile must be a mapping (format, name, kind, ..., classes)",
                        file=file, line=getattr(raw, "line", 1))
    fmt = raw.get("format")
    if isinstance(fmt, int) and not isinstance(fmt, bool) and fmt > FORMAT:
        raise SpecError(f"device profile format {fmt} is newer than this costmodel reads "
                        f"(format {FORMAT}): upgrade costmodel", file=file,
                        line=nested_line(raw, ("format",)))
    try:
        prof = DeviceProfile.model_validate(dict(raw))
    except ValidationError as exc:
        errors = exc.errors()
        err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        raise SpecError(_message(err), file=file, line=nested_line(raw, err["loc"])) from None
    if prof.format not in READABLE:
        raise SpecError(f"device profile format {prof.format} is not readable (this costmodel "
                        f"reads formats {', '.join(map(str, READABLE))})", file=file,
                        line=nested_line(raw, ("format",)))
    if prof.format == 1 and ("model" in raw or any(
            isinstance(v, dict) and set(v) & set(CLASS_BANDWIDTHS)
            for v in (raw.get("classes") or {}).values())):
        key = ("model",) if "model" in raw else ("classes",)
        raise SpecError("format 1 profiles have no 'model' and no per-class 'memory_bandwidth', "
                        "'weight_bandwidth' or 'scratch_bandwidth' "
                        "(write format: 2)", file=file, line=nested_line(raw, key))
    # a field written as null is absent, as pydantic reads it
    cache = [k for k in CACHE_FIELDS if raw.get(k) is not None]
    if cache and prof.format == 1:
        raise SpecError(f"format 1 profiles have no {cache[0]!r} (write format: 2)", file=file,
                        line=nested_line(raw, (cache[0],)))
    for pair in CACHES:
        given = [k for k in pair if raw.get(k) is not None]
        if len(given) == 1:
            other = next(k for k in pair if k not in given)
            raise SpecError(f"{given[0]!r} needs {other!r} beside it (give both or neither)",
                            file=file, line=nested_line(raw, (given[0],)))
    prof._file = file
    return prof


def load_file(path: "str | os.PathLike") -> DeviceProfile:
    file = os.fspath(path)
    try:
        raw = read_spec_file(file)
    except SpecError as exc:
        if "a spec needs" in exc.message:
            raise SpecError("the device profile is empty", file=file) from None
        raise
    return parse(raw, file)


def resolve(device: "str | os.PathLike") -> DeviceProfile:
    """A profile by shipped name (``costmodel/latency/devices/NAME.yaml``) or by file path."""
    text = os.fspath(device)
    if "/" in text or os.sep in text or text.endswith((".yaml", ".yml")):
        return load_file(text)
    path = DEVICES_DIR / f"{text}.yaml"
    if not path.is_file():
        names = known()
        raise SpecError(f"unknown device {text!r}{_close(text, names)}; known devices: "
                        f"{', '.join(names) or '(none shipped)'} (or give a profile file: "
                        "`costmodel calibrate --out my.yaml`)", file="--device")
    return load_file(path)


def default_name() -> str:
    """The shipped profile used when --device is not given: the first shipped CPU profile."""
    names = known()
    if not names:
        raise SpecError("no device profile is shipped; give --device FILE")
    return names[0]


def _num(v: float) -> str:
    """A float YAML 1.1 reads back as a float (a dot and a signed exponent)."""
    return f"{v:.6e}"


def dump(prof: DeviceProfile) -> str:
    """The profile as commented YAML (what `calibrate` writes)."""
    def q(s: str) -> str:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'
    rule = ("overhead_s + flops / peak_flops + bytes / memory_bandwidth" if prof.model == "additive"
            else "overhead_s + max(flops / peak_flops, bytes / memory_bandwidth)")
    rule += (",\n#   bytes / memory_bandwidth meaning activations / memory_bandwidth + weights /"
             " weight_bandwidth\n#   + 2 x scratch / scratch_bandwidth (each as the class gives it)")
    if prof.weight_cache_bytes is not None:
        rule += ("\n#   + m x (activations + weights) / cold_bandwidth, m = max(0, 1 -"
                 " weight_cache_bytes / the network's weight bytes)")
    if prof.kernel_cache_bytes is not None:
        rule += ("\n#   + s x activations / spill_bandwidth, s = max(0, 1 - kernel_cache_bytes /"
                 " (the kernel's activations + weights))")
    if prof.llc_bytes is not None:
        rule += ("\n#   + d x weights / dram_bandwidth, d = max(0, 1 - llc_bytes / the network's"
                 " weight bytes)")
    lines = [
        f"# costmodel device profile (format {prof.format}): `costmodel latency SPEC --device FILE`.",
        "# peak_flops: FLOP/s (a multiply-accumulate is 2); overhead_s: seconds per kernel;",
        "# memory_bandwidth: bytes/s (a class's own, else the top-level one).",
        f"# Predicted time of a kernel ({prof.model} model):",
        f"#   {rule}.",
        f"format: {prof.format}", f"name: {q(prof.name)}", f"description: {q(prof.description)}",
        f"kind: {prof.kind}", f"dtype: {prof.dtype}", f"threads: {prof.threads}",
        f"batch: {prof.batch}", f"torch: {q(prof.torch)}", f"cpu: {q(prof.cpu)}",
        f"calibrated: {q(prof.calibrated)}", f"method: {q(prof.method)}",
        *([f"model: {prof.model}"] if prof.format >= 2 else []),
        f"memory_bandwidth: {_num(prof.memory_bandwidth)}",
        *(f"{k}: {_num(getattr(prof, k))}" for k in CACHE_FIELDS if getattr(prof, k) is not None),
        "classes:"]
    for name in KERNEL_CLASSES:
        c = getattr(prof.classes, name)
        if c is None:            # a FALLBACK class the profile does not have
            continue
        extra = ""
        for key in CLASS_BANDWIDTHS:
            if getattr(c, key) is not None:
                extra += f", {key}: {_num(getattr(c, key))}"
        if c.fit_mape is not None:
            extra += f", fit_mape: {c.fit_mape:.4f}"
        if c.samples is not None:
            extra += f", samples: {c.samples}"
        lines.append(f"  {name + ':':<15}{{peak_flops: {_num(c.peak_flops)}, "
                     f"overhead_s: {_num(c.overhead_s)}{extra}}}")
    return "\n".join(lines) + "\n"
