"""Golden scenarios of `fedrender explain`.

Each directory under tests/golden/explain/ holds numbered input steps: ``specs-N.yaml`` and
``clusters-N.yaml`` (a step without one of them reuses the previous step's). Every step but the last is
rendered into one output directory, so its state file carries over; the last step is explained against
that state, as text (``expected.txt``) and JSON (``expected.json``).

    python tests/golden.py            # print a per-file diff of every mismatch, exit 1 if any
    python tests/golden.py --refresh  # rewrite the expected files (review the diff before committing)
"""

from __future__ import annotations

import difflib
import re
import sys
import tempfile
from pathlib import Path

from click.testing import CliRunner

from fedrender.cli import main

ROOT = Path(__file__).resolve().parent / "golden" / "explain"
EXPECTED = ("expected.txt", "expected.json")


def scenarios() -> list[Path]:
    return sorted(p for p in ROOT.iterdir() if p.is_dir())


def _steps(directory: Path) -> list[tuple[Path, Path]]:
    numbers = sorted({int(m.group(1)) for p in directory.iterdir() if (m := re.match(r"\w+-(\d+)\.yaml$", p.name))})
    steps, specs, clusters = [], None, None
    for n in numbers:
        specs = directory / f"specs-{n}.yaml" if (directory / f"specs-{n}.yaml").exists() else specs
        clusters = directory / f"clusters-{n}.yaml" if (directory / f"clusters-{n}.yaml").exists() else clusters
        if specs is None or clusters is None:
            raise ValueError(f"{directory}: step {n} has no specs or no clusters")
        steps.append((specs, clusters))
    return steps


def actual(directory: Path) -> dict[str, str]:
    """The explain output of the scenario's last step, after rendering the ones before it."""
    runner = CliRunner()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        steps = _steps(directory)
        for specs, clusters in steps[:-1]:
            args = ["render", "--specs", str(specs), "--clusters", str(clusters), "--out", str(out)]
            result = runner.invoke(main, args)
            if result.exit_code != 0:
                raise RuntimeError(f"{directory.name}: rendering {specs.name} failed:\n{result.stderr}")
        specs, clusters = steps[-1]
        outputs = {}
        for name, fmt in zip(EXPECTED, ("text", "json"), strict=True):
            args = ["explain", "--specs", str(specs), "--clusters", str(clusters), "--out", str(out), "-o", fmt]
            result = runner.invoke(main, args)
            if result.exit_code != 0:
                raise RuntimeError(f"{directory.name}: explain failed:\n{result.stderr}")
            outputs[name] = result.stdout
    return outputs


def diff(directory: Path) -> str:
    """Unified diffs between the expected files and what explain prints now ('' when they match)."""
    text = ""
    for name, got in actual(directory).items():
        path = directory / name
        want = path.read_text() if path.exists() else ""
        if want != got:
            text += "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True),
                                                 f"{path} (expected)", f"{path} (actual)"))
    return text


def main_(argv: list[str]) -> int:
    refresh = "--refresh" in argv
    failed = 0
    for directory in scenarios():
        if refresh:
            for name, text in actual(directory).items():
                (directory / name).write_text(text)
            print(f"refreshed {directory.name}")
            continue
        text = diff(directory)
        if text:
            failed += 1
            print(text)
    print(f"{len(scenarios()) - failed} passed, {failed} failed" if not refresh else "done")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main_(sys.argv[1:]))
