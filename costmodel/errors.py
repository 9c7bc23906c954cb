"""The one exception type a user ever sees: a spec problem with file, line and layer."""
from __future__ import annotations

MAX_MESSAGE_CHARS = 500     # a message longer than this is cut, saying how long it was
MAX_MESSAGE_LINES = 40      # a message of several lines (every spec that failed): at most
MAX_VALUE_CHARS = 80        # a value quoted in a message: an excerpt and its length


def excerpt(value: object, limit: int = MAX_VALUE_CHARS) -> str:
    """``repr(value)``, or an excerpt of it and its length; safe for any value (an integer
    of 10,000 digits has no ``repr`` in Python 3.11+)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 4 * limit:
        return f"<an integer of about {int(value.bit_length() * 0.30103) + 1:,} digits>"
    try:
        text = repr(value)
    except (ValueError, RecursionError):
        return f"<a {type(value).__name__} too large to show>"
    if len(text) <= limit:
        return text
    return f"{text[:limit - 3]}... ({len(text):,} characters)"


def cap(text: str, limit: int = MAX_MESSAGE_CHARS, max_lines: int = MAX_MESSAGE_LINES) -> str:
    """``text`` with each line cut at ``limit`` characters and at most ``max_lines`` lines,
    saying how long it was."""
    lines = text.split("\n")
    out = [line if len(line) <= limit else
           f"{line[:limit]}... (message cut: {len(line):,} characters in all)" for line in lines[:max_lines]]
    if len(lines) > max_lines:
        out.append(f"... and {len(lines) - max_lines:,} more lines")
    return "\n".join(out)


class SpecError(Exception):
    """A problem in a spec or in user input. The CLI prints it as one line and exits 2."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 layer: str | None = None):
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.layer = layer

    def located(self, *, file: str | None = None, line: int | None = None,
                layer: str | None = None) -> "SpecError":
        """Fill in whatever location is still unknown (inner information wins)."""
        if self.file is None:
            self.file = file
        if self.line is None:
            self.line = line
        if self.layer is None:
            self.layer = layer
        return self

    def __str__(self) -> str:
        if self.file is None and self.line is None and self.layer is None:
            return self.message          # an option or an environment problem, not a file's
        where = self.file or "<spec>"
        if self.line is not None:
            where += f":{self.line}"
        text = f"{where}: "
        if self.layer:
            text += f"layer '{self.layer}': "
        from costmodel.output.text import visible
        # control characters made visible; the message's own line breaks kept (user text
        # quoted in it comes through repr() or an inner SpecError, already escaped)
        return visible(cap(text + self.message), keep_newlines=True)
