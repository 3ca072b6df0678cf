"""A problem in a stack's config: the key path and what is wrong, printed as one line."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        # one line per problem, whatever a key or value typed by mistake holds (a newline)
        return f"error: {_one_line(self.path)}: {_one_line(self.message)}"


def _one_line(text: str) -> str:
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
