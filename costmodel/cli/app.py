"""The `costmodel` Typer app, its shared options and its error handling.

Every command lives in its own module and registers itself on ``app``. A SpecError (bad
input) is printed as one line on stderr and exits with status 2: never a traceback.
"""
from __future__ import annotations

import enum
import errno
import json
import os
import sys
from typing import Any, Optional

import typer

from costmodel.cli import coercion
from costmodel.count.dtypes import DTYPE_BYTES

from costmodel.errors import SpecError

coercion.install()     # typer converts plain values without building pydantic adapters

app = typer.Typer(
    name="costmodel",
    help="Analytical cost model and FLOPs/params profiler for efficient CNNs.\n\n"
         "Specs are YAML files, or names of the shipped zoo (`costmodel zoo`; the language: `costmodel schema`). Counts are exact integers, "
         "each under a named convention: mult-adds as the papers count them (conv + linear "
         "multiply-accumulates, bias excluded), params as sum(p.numel()) of the built module, "
         "and fvcore's own total.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from costmodel.version import __version__
        sys.stdout.write(f"costmodel {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def _group(
    version: bool = typer.Option(False, "--version", "-V", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Keeps `costmodel` a group of commands even when only one command module is loaded."""


class Format(str, enum.Enum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


class By(str, enum.Enum):
    """One row per layer, or per layer type (MobileNet's Table 2)."""
    layer = "layer"
    type = "type"


# --dtype choices: the dtypes memory figures and traffic are computed at (one list, in dtypes.py)
Dtype = enum.Enum("Dtype", {name: name for name in DTYPE_BYTES}, type=str)


SET_HELP = "Override a setting declared by the spec, e.g. --set width=0.5 --set resolution=160."


def set_option():
    return typer.Option(None, "--set", "-s", metavar="NAME=VALUE", help=SET_HELP)


def _convention_enum():
    from costmodel.count.conventions import CONVENTIONS
    return enum.Enum("Convention", {n.replace("-", "_"): n for n in CONVENTIONS}, type=str)


ConventionName = _convention_enum()
CONVENTION_HELP = ("Counting convention: paper (conv + linear MACs, bias excluded), fvcore, "
                   "flop_counter (2 x MACs), full (every operation), a peer's (thop, ptflops, "
                   "ptflops-aten, torchinfo, calflops, calflops-macs, torchprofile: what that "
                   "tool reports, `costmodel explain` says why) or training (forward + backward).")


def convention_option(default: str = "paper", help: str = CONVENTION_HELP):
    return typer.Option(ConventionName(default), "--convention", "-c", help=help,
                        case_sensitive=False)


def batch_option():
    return typer.Option(1, "--batch", "-b", min=1, max=1_000_000,
                        help="Batch size: counts are for the whole batch (every convention).")


def console(stderr: bool = False):
    """A rich console as wide as the terminal (or $COLUMNS); 200 columns into a pipe."""
    import os
    from rich.console import Console
    piped = not sys.stdout.isatty() and not os.environ.get("COLUMNS", "").isdigit()
    return Console(stderr=stderr, soft_wrap=False, width=200 if piped else None)


def print_json(data: Any, meta: bool = True) -> None:
    """Print a JSON document. A mapping starts with the document format's version and the
    tool's (``format_version``, ``tool``, ``tool_version``) unless `meta` is False."""
    from costmodel.output.jsondoc import document, dumps
    if meta and isinstance(data, dict):
        data = document(data)
    sys.stdout.write(dumps(data) + "\n")


def emit(tab, fmt: str) -> None:
    """Print a Tabular in the requested text format."""
    if fmt == "markdown":
        sys.stdout.write(tab.to_markdown())
    elif fmt == "csv":
        sys.stdout.write(tab.to_csv())
    elif fmt == "latex":
        sys.stdout.write(tab.to_latex())
    else:
        from costmodel.output import plain
        width = plain.width()
        text = tab.to_plain(width) if width is not None else None
        if text is not None:            # into a pipe or a file: rich's characters, no rich
            sys.stdout.write(text)
            return
        c = console()
        c.print(tab.to_rich(c.width))


def say(*parts: "str | tuple[str, str]") -> None:
    """Print one line made of plain text and (style, text) parts: through rich on a terminal
    (styled), written directly when no style is printed and the line fits the width."""
    from costmodel.output import plain
    from costmodel.output.text import plain_width, visible
    width = plain.width()
    text = "".join(visible(p if isinstance(p, str) else p[1]) for p in parts)
    if width is not None and len(text) <= width and plain_width(text):
        sys.stdout.write(text + "\n")
        return
    from rich.text import Text
    line = Text()
    for p in parts:
        line.append(visible(p)) if isinstance(p, str) else line.append(visible(p[1]), style=p[0])
    console().print(line, highlight=False)


def fail(message: str, code: int = 2) -> None:
    from costmodel.errors import cap
    from costmodel.output.text import visible
    sys.stderr.write(f"error: {visible(cap(message), keep_newlines=True)}\n")
    raise typer.Exit(code)


# command name -> the module that registers it, in the order `costmodel --help` lists them,
# under the panels "profile", "papers", "guard" and "torch" (each command's rich_help_panel)
COMMANDS = {"profile": "profile_cmd", "explain": "explain_cmd", "latency": "latency_cmd", "roofline": "latency_cmd",
            "sweep": "sweep_cmd", "zoo": "zoo_cmd",
            "ops": "schema_cmd", "schema": "schema_cmd",
            "table": "tables_cmd", "tables": "tables_cmd",
            "lock": "guard_cmd", "check": "guard_cmd",
            "verify": "verify_cmd", "import": "import_cmd", "bench": "latency_cmd",
            "calibrate": "latency_cmd"}


def _register_commands(argv: list[str]) -> None:
    """Import the module of the command being run (start-up stays fast), or all of them when
    the command is not named (``--help``, a typo) so that the help lists every command."""
    words = [a for a in argv if not a.startswith("-")]
    name = COMMANDS.get(words[0]) if words else None
    for module in [name] if name else list(dict.fromkeys(COMMANDS.values())):
        __import__(f"costmodel.cli.{module}")
    if "--help" in argv or "-h" in argv or not words:
        _teaching_help()


def reflow(text: str) -> str:
    """Help text whose paragraphs are each one line (the terminal wraps them at word
    boundaries, never mid-sentence); indented lines (examples) keep their own lines."""
    import inspect
    paragraphs = []
    for para in inspect.cleandoc(text).split("\n\n"):
        lines = para.splitlines()
        if any(line.startswith("  ") for line in lines):
            paragraphs.append(para)
        else:
            paragraphs.append(" ".join(line.strip() for line in lines))
    return "\n\n".join(paragraphs)


def _teaching_help() -> None:
    """Before help is printed: paragraphs re-flowed, and flags shown without a value
    placeholder (typer prints "<bool>" after --all, which reads as "--all <bool>")."""
    import inspect
    from typer import core
    order = list(COMMANDS)
    app.registered_commands.sort(key=lambda info: order.index(info.name or info.callback.__name__)
                                 if (info.name or info.callback.__name__) in order else len(order))
    for info in app.registered_commands:
        doc = info.help or inspect.getdoc(info.callback) or ""
        info.help = reflow(doc)
    if not getattr(core.TyperOption.display_type_rich, "_costmodel", False):
        original = core.TyperOption.display_type_rich

        def display_type_rich(self, ctx):
            if getattr(self, "is_flag", False) and self.metavar is None:
                return None
            return original(self, ctx)
        display_type_rich._costmodel = True  # type: ignore[attr-defined]
        core.TyperOption.display_type_rich = display_type_rich


def _stdout_usable() -> bool:
    if sys.stdout is None:
        return False
    try:
        sys.stdout.fileno()
    except (OSError, ValueError, AttributeError):
        return True         # a StringIO (tests), not a real stream
    try:
        os.fstat(sys.stdout.fileno())
    except OSError:
        return False
    return True


def _error(text: str) -> None:
    """One line on stderr, whatever the state of the streams."""
    if sys.stderr is None:
        return
    try:
        sys.stderr.write(f"error: {text}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _quiet_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so the interpreter's final flush is
    silent (the Python documentation's recipe)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _encodable_streams() -> None:
    """A terminal that cannot show a character (LANG=C, PYTHONIOENCODING=ascii) gets an
    escape (``\\u00d7``) instead of a UnicodeEncodeError."""
    for stream in (sys.stdout, sys.stderr):
        enc = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
        if enc and enc not in ("utf8", "utf16", "utf32") and hasattr(stream, "reconfigure"):
            try:
                stream.reconfigure(errors="backslashreplace")
            except (ValueError, OSError):
                pass


def main(argv: Optional[list[str]] = None) -> None:
    if not _stdout_usable():
        _error("standard output is closed; run costmodel with its output going somewhere "
               "(a terminal, a file, a pipe)")
        sys.exit(2)
    _encodable_streams()
    code = 0
    try:
        _register_commands(sys.argv[1:] if argv is None else argv)
        try:
            app(args=argv, prog_name="costmodel", standalone_mode=True)
        finally:
            sys.stdout.flush()
    except SystemExit as exc:
        code = exc.code
    except SpecError as exc:
        _error(str(exc))
        code = 2
    except KeyboardInterrupt:
        _error("interrupted")
        code = 130
    except BrokenPipeError:
        _quiet_stdout()         # `costmodel ... | head`: the reader has all it wanted
        code = 141
    except OSError as exc:      # a full disk, a closed or failing stdout
        if exc.errno == errno.EPIPE:
            _quiet_stdout()
            code = 141
        else:
            _quiet_stdout()
            _error(f"cannot write the output: {exc.strerror or exc}")
            code = 1
    except RecursionError:
        _error("the input nests too deeply to process")
        code = 2
    except MemoryError:
        _error("out of memory: the input is too large to process")
        code = 2
    except OverflowError as exc:
        _error(f"a number in the input is too large to compute with ({exc})")
        code = 2
    except Exception as exc:    # a bug: one line, not a traceback (COSTMODEL_DEBUG=1 shows it)
        if os.environ.get("COSTMODEL_DEBUG"):
            raise
        from costmodel.errors import excerpt
        _error(f"internal error (a bug in costmodel; please report it with the command and "
               f"spec): {type(exc).__name__}: {excerpt(str(exc), 200)}; "
               "COSTMODEL_DEBUG=1 shows the traceback")
        code = 3
    if code not in (None, 0):
        sys.exit(code)
    sys.exit(0)


if __name__ == "__main__":
    main()
