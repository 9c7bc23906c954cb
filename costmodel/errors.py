"""The one exception type a user ever sees: a spec problem with file, line and layer."""
from __future__ import annotations


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
        return text + self.message
