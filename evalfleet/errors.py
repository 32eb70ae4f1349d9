"""The one exception type users see: it names the file and the field that is wrong."""

from __future__ import annotations


class EvalfleetError(Exception):
    """A problem with the user's input, stated so it can be fixed without reading code."""

    def __init__(self, message: str, *, source: str | None = None, field: str | None = None):
        self.message = message
        """What is wrong, without the location (str(error) prefixes '<source>: field '<field>': ')."""
        self.source = source
        self.field = field
        where = ""
        if source and field:
            where = f"{source}: field '{field}': "
        elif source:
            where = f"{source}: "
        elif field:
            where = f"field '{field}': "
        super().__init__(where + message)
