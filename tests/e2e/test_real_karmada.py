"""End to end against a real Karmada (skipped unless pytest runs with --with-e2e).

Set FEDRENDER_E2E_CONTEXT to the kubeconfig context of the Karmada API server. The test captures the real
Cluster list, renders the examples against it, and reads the aggregated status of any MongoReplicaSets.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import SPECS, run

pytestmark = pytest.mark.e2e
CONTEXT = os.environ.get("FEDRENDER_E2E_CONTEXT", "karmada-apiserver")


def test_snapshot_render_and_status_against_karmada(tmp_path: Path) -> None:
    clusters = tmp_path / "clusters.yaml"
    captured = run(["snapshot", "--context", CONTEXT, "--output-file", str(clusters)])
    assert captured.exit_code == 0, captured.stderr
    explained = run(["explain", "--specs", str(SPECS), "--clusters", str(clusters), "-o", "json"])
    assert explained.exit_code in (0, 1), explained.stderr  # 1: this cluster set cannot hold the examples
    if explained.exit_code == 0:
        assert json.loads(explained.stdout)["instances"]
    status = run(["status", "--context", CONTEXT, "-o", "json"])
    assert status.exit_code == 0, status.stderr
    assert "replicaSets" in json.loads(status.stdout)
