"""Golden explain scenarios (see tests/golden.py; refresh with `python tests/golden.py --refresh`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.golden import PREVIEW, actual_preview, diff, example_clusters, scenarios


@pytest.mark.parametrize("directory", scenarios(), ids=lambda p: p.name)
def test_explain_matches_golden(directory: Path) -> None:
    text = diff(directory)
    assert not text, f"explain output changed; review, then run `python tests/golden.py --refresh`:\n{text}"


@pytest.mark.parametrize("cluster", example_clusters())
def test_preview_matches_golden(cluster: str) -> None:
    text = diff(PREVIEW, actual_preview(cluster))
    assert not text, f"preview output changed; review, then run `python tests/golden.py --refresh`:\n{text}"
