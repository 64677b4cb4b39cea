"""Check fedrender as a user gets it: build the sdist and, from it, the wheel; install the wheel into a
fresh virtual environment; run the installed commands from a directory outside the clone.

Run by ``make wheel`` (part of ``make test``). It proves that the wheel carries everything the shipped
rule packs and schemas need: ``render`` without ``--rules``, ``rules check`` and ``rules test`` must
work where no ``rules/`` directory is in reach, and the sdist carries the sources, packs and LICENSE.

Usage: ``python tests/wheel_check.py [--keep DIR] [--dist DIR]``; exits non-zero, naming the step, on any failure.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# What the sdist and the wheel must carry (paths inside each archive, after its top folder for the sdist).
SDIST_MUST_HAVE = ["LICENSE", "README.md", "pyproject.toml", "rules/mongodb/pack.yaml",
                   "rules/mongodb/platform/crd.yaml", "rules/mongodb/testdata/clusters.yaml",
                   "rules/redis/crd.yaml", "schemas/multicloudmongodb.schema.json"]
WHEEL_MUST_HAVE = ["fedrender/_packs/mongodb/pack.yaml", "fedrender/_packs/mongodb/platform/crd.yaml",
                   "fedrender/_packs/mongodb/testdata/clusters.yaml", "fedrender/_packs/redis/testdata/clusters.yaml",
                   "fedrender/_schemas/multicloudmongodb.schema.json", "fedrender/py.typed", "reconciler/py.typed"]


class CheckFailed(Exception):
    pass


# setuptools' warning for a data folder that pyproject.toml's `packages` does not list (it would stop
# being installed when setuptools drops implicit namespace data packages).
UNLISTED_PACKAGE = "is absent from the `packages` configuration"


def step(title: str, args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    print(f"wheel check: {title}: {' '.join(args)}", flush=True)
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise CheckFailed(f"{title} exited {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n"
                          f"{result.stderr}")
    if "Traceback" in result.stderr:
        raise CheckFailed(f"{title} printed a traceback:\n{result.stderr}")
    unlisted = sorted({line.strip() for line in (result.stdout + result.stderr).splitlines()
                       if UNLISTED_PACKAGE in line and line.lstrip().startswith("WARNING")})
    if unlisted:
        raise CheckFailed(f"{title}: add these to [tool.setuptools] packages in pyproject.toml:\n"
                          + "\n".join(unlisted))
    return result.stdout


def check_archives(dist: Path) -> Path:
    sdists, wheels = sorted(dist.glob("*.tar.gz")), sorted(dist.glob("*.whl"))
    if len(sdists) != 1 or len(wheels) != 1:
        raise CheckFailed(f"expected one sdist and one wheel in {dist}, found {[p.name for p in dist.iterdir()]}")
    with tarfile.open(sdists[0]) as sdist:
        names = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
    missing = [n for n in SDIST_MUST_HAVE if n not in names]
    with zipfile.ZipFile(wheels[0]) as wheel:
        inside = set(wheel.namelist())
    missing += [n for n in WHEEL_MUST_HAVE if n not in inside]
    packs = sorted(p.relative_to(ROOT / "rules").as_posix() for p in (ROOT / "rules").rglob("*") if p.is_file())
    missing += [f"fedrender/_packs/{p}" for p in packs if f"fedrender/_packs/{p}" not in inside]
    if missing:
        raise CheckFailed(f"missing from the archives: {', '.join(missing)}")
    return wheels[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it (default: a temporary one)")
    parser.add_argument("--dist", type=Path, help="build the sdist and the wheel into this directory and leave them "
                        "there (default: inside the work directory)")
    options = parser.parse_args()
    work = options.keep or Path(tempfile.mkdtemp(prefix="fedrender-wheel-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    try:
        dist = (options.dist or work / "dist").resolve()
        dist.mkdir(parents=True, exist_ok=True)
        for old in [*dist.glob("fedrender-*.whl"), *dist.glob("fedrender-*.tar.gz")]:
            old.unlink()  # only this project's archives: the check expects exactly one of each
        # python -m build makes the sdist, then the wheel from the unpacked sdist: both are checked at once.
        step("build sdist and wheel", [sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)], work, env)
        wheel = check_archives(dist)
        venv = work / "venv"
        shutil.rmtree(venv, ignore_errors=True)
        step("create a fresh virtual environment", [sys.executable, "-m", "venv", str(venv)], work, env)
        bin_dir = venv / "bin"
        step("install the wheel", [str(bin_dir / "python"), "-m", "pip", "install", "--quiet",
                                   "--disable-pip-version-check", str(wheel)], work, env)
        user = work / "elsewhere"  # a directory outside the clone, with copies of the example inputs
        shutil.rmtree(user, ignore_errors=True)
        shutil.copytree(ROOT / "examples", user / "inputs")
        fedrender = str(bin_dir / "fedrender")
        step("fedrender --version", [fedrender, "--version"], user, env)
        step("rules check (shipped packs)", [fedrender, "rules", "check"], user, env)
        step("rules test (shipped packs)", [fedrender, "rules", "test"], user, env)
        step("render without --rules", [fedrender, "render", "--specs", "inputs/specs", "--clusters",
                                        "inputs/clusters/clusters.yaml", "--out", "out"], user, env)
        rendered = sorted(p.relative_to(user / "out").as_posix() for p in (user / "out").rglob("*") if p.is_file())
        if not any(p.startswith("platform/mongodb/") for p in rendered) or ".fedrender/state.json" not in rendered:
            raise CheckFailed(f"render wrote an incomplete tree: {rendered[:20]}")
        step("explain -o json", [fedrender, "explain", "--specs", "inputs/specs", "--clusters",
                                 "inputs/clusters/clusters.yaml", "-o", "json"], user, env)
        step("fedrender-reconciler --help (no cluster, no environment)",
             [str(bin_dir / "fedrender-reconciler"), "--help"], user,
             {k: v for k, v in env.items() if not k.startswith(("FEDRENDER_", "KUBECONFIG"))})
        print(f"wheel check: ok ({wheel.name}, {len(rendered)} files rendered from {user})")
        return 0
    except CheckFailed as exc:
        print(f"wheel check FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        if options.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
