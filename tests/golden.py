"""Golden outputs: `fedrender explain` scenarios and `fedrender preview` of every example cluster.

tests/golden/preview/<cluster>.yaml is `fedrender preview --cluster <cluster>` of examples/ with
overlays/dev. Each directory under tests/golden/explain/ holds numbered input steps: ``specs-N.yaml`` and
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
PREVIEW = Path(__file__).resolve().parent / "golden" / "preview"
REPO = Path(__file__).resolve().parent.parent
EXAMPLE_CLUSTERS = REPO / "examples" / "clusters" / "clusters.yaml"
EXAMPLE_ARGS = ["--specs", str(REPO / "examples" / "specs"), "--clusters", str(EXAMPLE_CLUSTERS),
                "--overlay", str(REPO / "overlays" / "dev")]
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


def example_clusters() -> list[str]:
    import yaml

    return sorted(item["metadata"]["name"] for item in yaml.safe_load(EXAMPLE_CLUSTERS.read_text())["items"])


def actual_preview(cluster: str) -> dict[str, str]:
    result = CliRunner().invoke(main, ["preview", "--cluster", cluster, *EXAMPLE_ARGS])
    if result.exit_code != 0:
        raise RuntimeError(f"preview {cluster} failed:\n{result.stderr}")
    return {f"{cluster}.yaml": result.stdout}


def diff(directory: Path, outputs: dict[str, str] | None = None) -> str:
    """Unified diffs between the expected files and what fedrender prints now ('' when they match)."""
    text = ""
    for name, got in (outputs if outputs is not None else actual(directory)).items():
        path = directory / name
        want = path.read_text() if path.exists() else ""
        if want != got:
            text += "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True),
                                                 f"{path} (expected)", f"{path} (actual)"))
    return text


def main_(argv: list[str]) -> int:
    refresh = "--refresh" in argv
    cases = [(d, actual(d)) for d in scenarios()] + [(PREVIEW, actual_preview(c)) for c in example_clusters()]
    failed = 0
    for directory, outputs in cases:
        if refresh:
            directory.mkdir(parents=True, exist_ok=True)
            for name, text in outputs.items():
                (directory / name).write_text(text)
            continue
        text = diff(directory, outputs)
        if text:
            failed += 1
            print(text)
    print("refreshed" if refresh else f"{len(cases) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main_(sys.argv[1:]))
