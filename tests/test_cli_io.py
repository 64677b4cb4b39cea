"""kubectl-style input and output of the CLI, each behaviour through the command itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import CLUSTERS, ROOT, SPECS

FEDRENDER = Path(sys.executable).parent / "fedrender"


def test_a_closed_pipe_ends_the_command_quietly_with_0() -> None:
    """`fedrender ... | head -1`: the reader is gone (here before the first write, so it can't race)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run([str(FEDRENDER), "render", "--specs", str(SPECS), "--clusters", str(CLUSTERS),
                                 "--out", "-"], stdout=write_end, stderr=subprocess.PIPE, cwd=ROOT, check=False)
    finally:
        os.close(write_end)
    assert result.returncode == 0, result.stderr
    errors = [line for line in result.stderr.decode().splitlines() if ": warning: " not in line]
    assert errors == []
