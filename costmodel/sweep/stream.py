"""Writers of a sweep's rows, chunk by chunk in constant memory: CSV, JSON Lines and Parquet
(``pyarrow``, the ``parquet`` extra). A file is written atomically (a temporary file renamed
at the end): an interrupted sweep leaves the previous file, never half of one."""
from __future__ import annotations

import csv
import json
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Sequence

from costmodel import extras
from costmodel.errors import SpecError
from costmodel.output.atomic import atomic_open, ensure_dir

STREAM_FORMATS = ("csv", "jsonl", "parquet")
SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet",
            ".pq": "parquet", ".json": "json", ".md": "markdown"}


def _text(v: Any) -> Any:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return v


def _column(v: Any, formatted: bool) -> list:
    vals = v.tolist() if hasattr(v, "tolist") else list(v)
    if not formatted:
        return vals
    if all(type(x) is float for x in vals):
        return list(map(repr, vals))
    return [_text(x) for x in vals]


class Writer:
    """``with Writer(fmt, path_or_None, columns) as w: w.write(cols)``; ``path=None``: stdout."""

    def __init__(self, fmt: str, path: "str | Path | None", columns: Sequence[str],
                 types: dict[str, type] | None = None):
        if fmt not in STREAM_FORMATS:
            raise SpecError(f"cannot stream {fmt}; streamed formats: {', '.join(STREAM_FORMATS)}")
        if fmt == "parquet":
            if path is None:
                raise SpecError("Parquet is binary: give --out FILE.parquet")
            extras.need("parquet", "--format parquet")
        self.fmt, self.path, self.columns = fmt, path, list(columns)
        self.types = types or {}
        self.rows = 0
        self._stack = ExitStack()

    def __enter__(self) -> "Writer":
        if self.path is not None:
            ensure_dir(Path(self.path).parent if str(Path(self.path).parent) else ".")
            self.fh = self._stack.enter_context(
                atomic_open(self.path, "wb" if self.fmt == "parquet" else "w"))
        else:
            self.fh = sys.stdout
        if self.fmt == "csv":
            self._csv = csv.writer(self.fh, lineterminator="\n")
            self._csv.writerow(self.columns)
        elif self.fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq
            self._pa = pa
            fields = [pa.field(c, _arrow_type(pa, self.types.get(c, int))) for c in self.columns]
            self._schema = pa.schema(fields)
            self._pq = self._stack.enter_context(pq.ParquetWriter(self.fh, self._schema))
        return self

    def write(self, cols: dict[str, Any]) -> None:
        n = len(cols[self.columns[0]]) if self.columns else 0
        if not n:
            return
        self.rows += n
        if self.fmt == "csv":
            if all(self.types.get(c) in (int, float, bool) for c in self.columns):
                # numbers only: nothing to quote, so join the text directly (5x csv.writer)
                text = [list(map(str, _column(cols[c], False))) if self.types.get(c) is int
                        else _column(cols[c], True) for c in self.columns]
                self.fh.write("\n".join(map(",".join, zip(*text))) + "\n")
            else:
                cells = [_column(cols[c], self.types.get(c) is not int) for c in self.columns]
                self._csv.writerows(zip(*cells))
        elif self.fmt == "jsonl":
            names = self.columns
            lists = [_column(cols[c], False) for c in names]
            self.fh.write("".join(json.dumps(dict(zip(names, r))) + "\n" for r in zip(*lists)))
        else:
            pa = self._pa
            arrays = [pa.array(cols[c].tolist() if hasattr(cols[c], "tolist") else cols[c],
                               type=self._schema.field(c).type) for c in self.columns]
            self._pq.write_table(pa.Table.from_arrays(arrays, schema=self._schema))

    def __exit__(self, *exc) -> bool:
        return self._stack.__exit__(*exc)


def _arrow_type(pa, t: type):
    return {bool: pa.bool_(), int: pa.int64(), float: pa.float64(), str: pa.string()}.get(
        t, pa.string())
