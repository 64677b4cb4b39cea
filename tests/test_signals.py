"""A signal during ``render --out`` leaves the old render or the new one, byte for byte, and no staging directory.

A child process renders fewer instances over a previous render again and again; each time it sends itself the
signal at one more rename of the switch (through the ``rename`` seam of ``write_tree``; point 0: as the write
starts), until a render no longer reaches the point. The parent checks every output tree and the exit codes.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import CLUSTERS, ROOT, run
from tests.sandbox import picture, render_args, write_specs

DRIVER = """
import contextlib, io, json, os, shutil, sys
from pathlib import Path
from fedrender.cli import main
from fedrender.cli import render as command
from fedrender.pipeline import write

signo, stride, base, specs = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
clusters = sys.argv[5]
original = write.write_tree
point = 0
while True:
    out = base / f"out-{point}"
    shutil.copytree(base / "old", out, symlinks=True)
    calls = [0]

    def rename(src, dst, *, src_dir_fd, dst_dir_fd):
        calls[0] += 1
        if calls[0] == point:
            os.kill(os.getpid(), signo)
        os.replace(src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)

    def patched(out, files, rename_=None, guard=None):
        if point == 0:
            os.kill(os.getpid(), signo)
        return original(out, files, rename, guard)

    command.write_tree = patched
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        try:
            main(["render", "--specs", specs, "--clusters", clusters, "--out", str(out)])
        except SystemExit as exc:
            code = exc.code
    fired = point == 0 or calls[0] >= point
    print(json.dumps({"point": point, "code": code, "fired": fired, "stderr": stderr.getvalue()}), flush=True)
    if not fired:
        break
    point += stride
"""


@pytest.mark.parametrize(("signo", "stride"), [(signal.SIGTERM, 1), (signal.SIGINT, 4), (signal.SIGHUP, 4)],
                         ids=["SIGTERM", "SIGINT", "SIGHUP"])
def test_a_signal_at_any_point_of_the_switch_leaves_the_old_or_the_new_render(tmp_path: Path, signo: int,
                                                                              stride: int) -> None:
    two, one = write_specs(tmp_path / "specs-two", 0, 1), write_specs(tmp_path / "specs-one", 0)
    base = tmp_path / "box"
    base.mkdir()
    assert run(render_args(two, base / "old")).exit_code == 0
    assert run(render_args(two, base / "new")).exit_code == 0
    assert run(render_args(one, base / "new")).exit_code == 0
    old, new = picture(base / "old"), picture(base / "new")
    assert old != new
    args = [sys.executable, "-c", DRIVER, str(int(signo)), str(stride), str(base), str(one),
            str(CLUSTERS)]
    done = subprocess.run(args, capture_output=True, text=True, check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    runs = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(runs) > 3, done.stdout
    outcomes = set()
    for result in runs:
        out = base / f"out-{result['point']}"
        tree = picture(out)
        assert tree in (old, new), f"point {result['point']}: a mix of the old and the new render"
        assert "Traceback" not in result["stderr"]
        assert "Aborted!" not in result["stderr"]
        if not result["fired"]:
            assert (result["code"], tree) == (0, new), result
            continue
        assert result["code"] == 128 + signo, result
        name = signal.Signals(signo).name
        if tree == new:
            assert f"fedrender: interrupted by {name} after the write completed; {out} holds the new render" \
                in result["stderr"], result
        else:
            assert f"fedrender: interrupted by {name} before the write completed; nothing was written: {out} " \
                   "holds the previous render" in result["stderr"], result
        outcomes.add(tree == new)
    assert outcomes == {False, True}  # both kinds of ending were reached
    left = sorted(p.name for p in base.iterdir() if not p.name.startswith("out-") and p.name not in ("old", "new"))
    assert left == []  # no staging directory beside any --out


def test_the_previous_handlers_are_restored(tmp_path: Path) -> None:
    before = [signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)]
    assert run(render_args(write_specs(tmp_path / "specs", 0), tmp_path / "out")).exit_code == 0
    assert [signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)] == before


def _catches(pid: int, signo: int) -> bool:
    """Whether process ``pid`` has a handler for ``signo`` (the SigCgt mask of /proc/<pid>/status)."""
    status = Path(f"/proc/{pid}/status").read_text()
    mask = int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")), 16)
    return bool(mask >> (signo - 1) & 1)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc/<pid>/status")
@pytest.mark.parametrize("signo", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=["SIGINT", "SIGTERM", "SIGHUP"])
@pytest.mark.parametrize("command", ["render", "explain"])
def test_a_signal_before_the_write_ends_the_command_as_during_it(tmp_path: Path, signo: int, command: str) -> None:
    """Ctrl-C while the inputs are still being read or rendered: exit 128 + n and one line saying nothing was
    written (was click's "Aborted!" and exit 1 for SIGINT, and a silent death for SIGTERM and SIGHUP).

    The child reads its specs from a pipe the test never closes, so it is before its write for sure; the test
    signals it once it has its handlers (SIGHUP, the last one installed, is caught)."""
    out = tmp_path / "out"
    specs = write_specs(tmp_path / "specs", 0)
    assert run(render_args(specs, out)).exit_code == 0
    before = picture(out)
    argv = [str(Path(sys.executable).parent / "fedrender"), command, "--specs", "-", "--clusters", str(CLUSTERS),
            *(["--out", str(out)] if command == "render" else [])]
    child = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 60  # a guard against waiting forever, not a measurement
        while child.poll() is None and not _catches(child.pid, signal.SIGHUP) and time.monotonic() < deadline:
            time.sleep(0.01)
        child.send_signal(signo)
        _, stderr = child.communicate()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        assert child.stdin is not None
        child.stdin.close()
    name = signal.Signals(signo).name
    assert (child.returncode, stderr.decode()) == \
        (128 + signo, f"fedrender: interrupted by {name} before the write completed; nothing was written\n")
    assert picture(out) == before
