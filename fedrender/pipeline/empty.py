"""Zero inputs are not an instruction to delete everything (issue 10, section 5).

Specs that define no instance (an empty folder, a typo in ``--specs``, files with a suffix fedrender
doesn't read) would render an output without a single instance, and writing it prunes every file of the
last render, the CRDs included. That is refused unless the user says ``--allow-empty``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fedrender.models.diagnostics import Diagnostic, InputError, Location
from fedrender.pipeline.load import SPEC_SUFFIXES, spec_files
from fedrender.pipeline.render import RenderResult

_SHOWN = 5


WRITING = ("writing that would remove every file of the last render, the CRDs included. Check --specs, or pass "
           "--allow-empty to remove everything")
"""What an empty render or publish would do (they take ``--allow-empty``)."""
PUBLISHING = ("publishing that would remove every file of the last render, the CRDs included. Check --specs, or "
              "pass --allow-empty to see that removal")
"""What ``diff`` of empty specs would show (it takes ``--allow-empty``, as publish does)."""
SHOWING = "there is nothing to show. Check --specs"
"""For the commands that only show a render (explain, preview)."""


def refuse_empty(specs: Sequence[Path], result: RenderResult, allow_empty: bool, consequence: str = WRITING) -> None:
    """InputError located at the ``--specs`` paths when ``result`` holds no instance and ``allow_empty`` is
    False; the message names the files read and the files skipped (and why), then ``consequence``."""
    if result.instances or allow_empty:
        return
    read, skipped = spec_files(specs)
    text = f"the specs define no instance: read {_count(read)}"
    if skipped:
        text += f"; skipped {_count(skipped)} (fedrender reads {', '.join(SPEC_SUFFIXES)})"
    raise InputError([Diagnostic(f"{text}; {consequence}", Location(", ".join(str(p) for p in specs)))])


def _count(paths: Sequence[Path]) -> str:
    if not paths:
        return "no file"
    names = ", ".join(str(p) for p in paths[:_SHOWN])
    more = f" and {len(paths) - _SHOWN} more" if len(paths) > _SHOWN else ""
    return f"{len(paths)} file{'s' if len(paths) != 1 else ''} ({names}{more})"
