"""A side-by-side line diff of two template versions, for the version history page."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from itertools import zip_longest


@dataclass(frozen=True)
class DiffRow:
    """One line pair of a side-by-side diff: kind is equal, changed, deleted or inserted."""

    kind: str
    old_number: int | None
    old_line: str
    new_number: int | None
    new_line: str


def diff_rows(old: str, new: str) -> list[DiffRow]:
    """Side-by-side line diff of two texts (difflib), for the version history table."""
    a, b = old.splitlines(), new.splitlines()
    rows: list[DiffRow] = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            rows.extend(
                DiffRow("equal", i + 1, a[i], j + 1, b[j])
                for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
            )
            continue
        for i, j in zip_longest(range(i1, i2), range(j1, j2)):
            if i is not None and j is not None:
                rows.append(DiffRow("changed", i + 1, a[i], j + 1, b[j]))
            elif i is not None:
                rows.append(DiffRow("deleted", i + 1, a[i], None, ""))
            elif j is not None:
                rows.append(DiffRow("inserted", None, "", j + 1, b[j]))
    return rows
