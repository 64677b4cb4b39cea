"""Nothing is written or deleted outside --out, and a failed write leaves every byte as it was (issue 10, 1-2).

Every hostile tree is built by the tests: symlinked folders and files leading outside --out, state files
whose ``files`` entries leave it, wrong file types where the render goes, OS failures injected at each
rename of the switch. After every refusal the whole sandbox (--out, its parent and a folder outside) is
compared byte for byte with a picture taken before.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedrender.pipeline.render import Inputs, render
from fedrender.pipeline.write import WriteFailed, WriteRefused, write_tree
from tests.conftest import CLUSTERS, run
from tests.sandbox import picture, render_args, write_specs

STATE = ".fedrender/state.json"


@pytest.fixture(scope="module")
def specs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("specs")
    bad = write_specs(base / "bad", 0)
    (bad / "spec-0.yaml").write_text((bad / "spec-0.yaml").read_text().replace("replicaset: 3", "replicaset: 3\n  "
                                                                              "replicaz: 1"))
    return {"one": write_specs(base / "one", 0), "two": write_specs(base / "two", 0, 1), "bad": bad,
            "empty": write_specs(base / "empty")}


class Rendered(dict[str, dict[str, bytes]]):
    """Spec set name -> rendered files; a short repr, for hypothesis' reports."""

    def __repr__(self) -> str:
        return f"<rendered {', '.join(self)}>"


@pytest.fixture(scope="module")
def rendered(specs: dict[str, Path]) -> Rendered:
    """What ``render`` writes for the valid spec sets, computed once."""
    return Rendered({name: render(Inputs([specs[name]], CLUSTERS)).files for name in ("one", "two")})


def box(base: Path, prior: dict[str, bytes] | None = None) -> tuple[Path, Path]:
    """A sandbox: ``base/out`` (holding ``prior``, written as a render would), ``base/outside`` with files a
    bad writer could reach, and a file beside --out."""
    out, outside = base / "out", base / "outside"
    (outside / "shop").mkdir(parents=True)
    (outside / "secret.txt").write_bytes(b"outside --out\n")
    (outside / "shop" / "keep.yaml").write_bytes(b"kept: true\n")
    (base / "beside.txt").write_bytes(b"beside --out\n")
    if prior is not None:
        write_tree(out, prior)
    return out, outside


def directories(files: dict[str, bytes]) -> list[str]:
    return sorted({str(p) for f in files for p in PurePosixPath(f).parents if str(p) != "."})


def assert_refused(result: object, where: str, before: dict[str, tuple[object, ...]], base: Path) -> None:
    code, stderr = result.exit_code, result.stderr  # type: ignore[attr-defined]
    assert code == 1, stderr
    assert "Traceback" not in stderr
    assert where in stderr, stderr
    assert "nothing was written" in stderr
    assert picture(base) == before


def test_a_symlink_anywhere_below_out_is_never_followed(tmp_path: Path, specs: dict[str, Path],
                                                         rendered: dict[str, dict[str, bytes]]) -> None:
    """Every folder of a render replaced in turn by a symlink to a copy outside --out: rendering fewer
    instances would write through some of them and prune through others; each is refused, naming it."""
    for index, folder in enumerate(directories(rendered["two"])):
        base = tmp_path / str(index)
        out, outside = box(base, rendered["two"])
        shutil.copytree(out / folder, outside / "copy")
        shutil.rmtree(out / folder)
        (out / folder).symlink_to(outside / "copy", target_is_directory=True)
        before = picture(base)
        result = run(render_args(specs["one"], out))
        assert_refused(result, f"{out / folder}: error: is a symlink", before, base)


def test_a_symlinked_file_is_neither_replaced_nor_pruned(tmp_path: Path, specs: dict[str, Path],
                                                        rendered: dict[str, dict[str, bytes]]) -> None:
    changed = sorted(f for f in rendered["two"] if rendered["one"].get(f) != rendered["two"][f])
    for index, leaf in enumerate(changed[:3] + changed[-3:]):
        base = tmp_path / str(index)
        out, outside = box(base, rendered["two"])
        (out / leaf).unlink()
        (out / leaf).symlink_to(outside / "secret.txt")
        before = picture(base)
        # a symlinked state file is already refused when it is read (it is not a state file); either way, located
        message = f"{out / leaf}:" if leaf == STATE else f"{out / leaf}: error: is a symlink"
        assert_refused(run(render_args(specs["one"], out)), message, before, base)


HOSTILE_ENTRIES = ["../outside/secret.txt", "../../x", "/etc/hostname", "a/../../outside/secret.txt", "./a",
                   "a//b", "", ".", "..", "a/./b", "\\..\\x", "a/\0b", STATE, 7, None]


@pytest.mark.parametrize("entry", HOSTILE_ENTRIES, ids=repr)
def test_hostile_state_entries_are_located_errors(tmp_path: Path, specs: dict[str, Path],
                                                 rendered: dict[str, dict[str, bytes]], entry: object) -> None:
    out, _ = box(tmp_path, rendered["two"])
    state = json.loads((out / STATE).read_text())
    state["files"].insert(3, entry)
    (out / STATE).write_text(json.dumps(state, indent=2) + "\n")
    before = picture(tmp_path)
    line = (out / STATE).read_text().splitlines().index('  "files": [') + 5
    result = run(render_args(specs["one"], out))
    if not isinstance(entry, str):  # not even a string: the state file's schema already refuses it when read
        assert_refused(result, f"{out / STATE}:{line}:5: error: ", before, tmp_path)
        assert "cannot use the state file" in result.stderr
        return
    assert_refused(result, f"{out / STATE}:{line}:5: error: files[3]: {entry!r} is not a path inside the output "
                   "directory", before, tmp_path)


def test_a_state_entry_through_a_symlink_prunes_nothing_outside(tmp_path: Path, specs: dict[str, Path],
                                                               rendered: dict[str, dict[str, bytes]]) -> None:
    out, outside = box(tmp_path, rendered["one"])
    (out / "instances" / "escape").symlink_to(outside, target_is_directory=True)
    (outside / "secret.yaml").write_text("kept")
    state = json.loads((out / STATE).read_text())
    state["files"].append("instances/escape/secret.yaml")
    (out / STATE).write_text(json.dumps(state))
    before = picture(tmp_path)
    result = run(render_args(specs["one"], out))
    assert_refused(result, f"{out / 'instances' / 'escape'}: error: is a symlink", before, tmp_path)
    assert "pruning instances/escape/secret.yaml" in result.stderr


@pytest.mark.parametrize("entry", [".git/HEAD", ".git/config", "README.md", ".gitignore", "user-notes.txt",
                                   "instances/shop/notes.txt", "instances/.hidden/x.yaml", "other/x.yaml",
                                   "instances"])
def test_a_state_entry_outside_the_output_layout_is_refused_and_nothing_pruned(
        tmp_path: Path, specs: dict[str, Path], rendered: dict[str, dict[str, bytes]], entry: str) -> None:
    # The state file is hostile input: an entry naming a file fedrender never writes (the repository's .git,
    # a user's README) must not be pruned, even when the file exists.
    out, _ = box(tmp_path, rendered["one"])
    target = out / entry
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("the user's\n")
    state = json.loads((out / STATE).read_text())
    state["files"].append(entry)
    (out / STATE).write_text(json.dumps(state))
    before = picture(tmp_path)
    result = run(render_args(specs["one"], out))
    assert_refused(result, f"{out / STATE}:1:", before, tmp_path)
    assert f"{entry!r} is not a file fedrender renders" in result.stderr


def _directory_for_file(leaf: Path) -> None:
    leaf.unlink()
    leaf.mkdir()


def _file_for_directory(leaf: Path) -> None:
    shutil.rmtree(leaf.parent)
    leaf.parent.write_text("x")


def _fifo_for_file(leaf: Path) -> None:
    leaf.unlink()
    os.mkfifo(leaf)


def _fifo_for_directory(leaf: Path) -> None:
    shutil.rmtree(leaf.parent)
    os.mkfifo(leaf.parent)


WRONG_TYPES: dict[str, Callable[[Path], None]] = {
    "directory where a file goes": _directory_for_file, "file where a directory goes": _file_for_directory,
    "FIFO where a file goes": _fifo_for_file, "FIFO where a directory goes": _fifo_for_directory,
}


@pytest.mark.parametrize("kind", sorted(WRONG_TYPES))
def test_wrong_file_types_are_refused_before_anything_changes(tmp_path: Path, specs: dict[str, Path],
                                                             rendered: dict[str, dict[str, bytes]], kind: str) -> None:
    out, _ = box(tmp_path, rendered["one"])
    leaf = "instances/shop/orders/statefulset-orders.yaml"
    WRONG_TYPES[kind](out / leaf)
    where = leaf if "file goes" in kind else str(PurePosixPath(leaf).parent)
    before = picture(tmp_path)
    result = run(render_args(specs["two"], out))
    assert_refused(result, f"{out / where}: error: is ", before, tmp_path)
    message = {"directory where a file goes": "is a directory where a file goes",
               "file where a directory goes": "is a file where a directory goes"}
    assert message.get(kind, "is not a regular file or directory") in result.stderr


def test_an_output_that_is_a_file_is_refused(tmp_path: Path, specs: dict[str, Path]) -> None:
    (tmp_path / "out").write_text("a file\n")
    before = picture(tmp_path)
    result = run(render_args(specs["one"], tmp_path / "out"))
    assert_refused(result, f"{tmp_path / 'out'}: error: the output directory is not a directory", before, tmp_path)


@pytest.mark.parametrize("files", [{"../x": b""}, {"/x": b""}, {"a/../../x": b""}, {"a": b"", "a/b": b""}],
                         ids=repr)
def test_rendered_paths_that_leave_the_root_are_refused(tmp_path: Path, files: dict[str, bytes]) -> None:
    box(tmp_path)
    before = picture(tmp_path)
    with pytest.raises(WriteRefused):
        write_tree(tmp_path / "out", files)
    assert picture(tmp_path) == before


class Faults:
    """The rename seam of ``write_tree``: the real ``os.replace``, with an I/O error at call ``fail_at``."""

    def __init__(self, fail_at: int = -1) -> None:
        self.calls = 0
        self.fail_at = fail_at

    def __call__(self, src: str, dst: str, *, src_dir_fd: int, dst_dir_fd: int) -> None:
        self.calls += 1
        if self.calls == self.fail_at:
            raise OSError(5, "Input/output error (injected)", dst)
        os.replace(src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)


def test_a_failure_at_any_rename_of_the_switch_is_undone(tmp_path: Path,
                                                         rendered: dict[str, dict[str, bytes]]) -> None:
    """From the render of two instances to that of one: files replaced, added and pruned. An I/O error at
    each rename in turn (also into a folder that did not exist, under a --out that did not exist)."""
    counting = Faults()
    box(tmp_path / "count", rendered["two"])
    write_tree(tmp_path / "count" / "out", rendered["one"], rename=counting)
    assert counting.calls > 10
    for fail_at in range(1, counting.calls + 1):
        base = tmp_path / str(fail_at)
        out, _ = box(base, rendered["two"])
        before = picture(base)
        with pytest.raises(WriteFailed, match=r"Input/output error .* every change was undone") as failed:
            write_tree(out, rendered["one"], rename=Faults(fail_at))
        assert failed.value.undone
        assert picture(base) == before, fail_at
    fresh = tmp_path / "fresh"
    box(fresh)
    before = picture(fresh)
    with pytest.raises(WriteFailed):
        write_tree(fresh / "new" / "deeper" / "out", rendered["one"], rename=Faults(3))
    assert picture(fresh) == before


def test_a_directory_appearing_where_a_file_goes_midway_is_undone(tmp_path: Path,
                                                                  rendered: dict[str, dict[str, bytes]]) -> None:
    """An honest OS failure: during the switch someone creates a directory where a new file goes; the real
    rename fails and everything already switched is undone (the intruder's directory stays)."""
    out, _ = box(tmp_path, rendered["one"])
    before = picture(tmp_path)
    new = sorted(p for p in set(rendered["two"]) - set(rendered["one"]) if p.startswith("instances/shop/catalog/"))[-1]

    def intrude(src: str, dst: str, *, src_dir_fd: int, dst_dir_fd: int) -> None:
        if dst == PurePosixPath(new).name:
            os.mkdir(dst, dir_fd=dst_dir_fd)
        os.replace(src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)

    with pytest.raises(WriteFailed, match=f"Is a directory: {new}.* every change was undone"):
        write_tree(out, rendered["two"], rename=intrude)
    (out / new).rmdir()
    for folder in (out / new).parents:  # the intruder's directory was the only thing in catalog/: as before
        if folder == out / "instances" / "shop":
            break
        folder.rmdir()
    assert picture(tmp_path) == before


def test_what_cannot_be_undone_is_said_and_kept(tmp_path: Path, rendered: dict[str, dict[str, bytes]]) -> None:
    """A directory appears where the replaced state file was: its backup can't go back, so the message says
    so and where the previous bytes are; nothing is deleted that fedrender didn't create."""
    out, _ = box(tmp_path, rendered["two"])
    previous_state = (out / STATE).read_bytes()
    before = picture(tmp_path)

    def intrude(src: str, dst: str, *, src_dir_fd: int, dst_dir_fd: int) -> None:
        if dst == "state.json":
            os.mkdir(dst, dir_fd=dst_dir_fd)
        os.replace(src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)

    with pytest.raises(WriteFailed, match=r"could not be fully undone: \.fedrender/state\.json: .*previous files are "
                                          r"in ") as failed:
        write_tree(out, rendered["one"], rename=intrude)
    assert not failed.value.undone
    rescue = Path(str(failed.value).rsplit(" in ", 1)[1])
    assert previous_state in [p.read_bytes() for p in rescue.iterdir()]
    after = picture(tmp_path)
    assert after.pop(f"out/{STATE}") == ("dir", 0o755)
    assert {k: v for k, v in after.items() if not k.startswith(rescue.parent.name)} == \
        {k: v for k, v in before.items() if k != f"out/{STATE}"}  # everything else is back


def test_a_symlink_swapped_in_during_the_switch_is_not_followed(tmp_path: Path,
                                                                rendered: dict[str, dict[str, bytes]]) -> None:
    out, outside = box(tmp_path, rendered["two"])
    before = picture(outside)
    swapped: list[bool] = []

    def swap(src: str, dst: str, *, src_dir_fd: int, dst_dir_fd: int) -> None:
        os.replace(src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)
        if not swapped:
            swapped.append(True)
            shutil.rmtree(out / "instances" / "shop")
            (out / "instances" / "shop").symlink_to(outside / "shop", target_is_directory=True)

    with pytest.raises(WriteFailed):
        write_tree(out, rendered["one"], rename=swap)
    assert picture(outside) == before


# The acceptance property: random trees in --out and random inputs; a render succeeds, or every byte under
# and around --out is as it was; when it succeeds nothing outside --out changed and no symlink was followed.

KINDS = ["file", "dir", "readonly-file", "readonly-dir", "link-outside-dir", "link-outside-file", "link-inside",
         "fifo", "hostile-state"]
PLACES = [".fedrender", STATE, "instances", "instances/shop", "instances/shop/orders", "instances/shop/catalog",
          "references", "references/shop", "instances/shop/orders/statefulset-orders.yaml",
          "instances/shop/catalog/service-catalog.yaml", "references/shop/propagationpolicy-secret-orders-root.yaml",
          "platform", "platform/mongodb",
          "platform/mongodb/namespace-fedrender-system.yaml", "notes.md", "instances/shop/notes.md"]
INPUTS = [("one", ()), ("two", ()), ("bad", ()), ("empty", ()), ("empty", ("--allow-empty",))]


def test_the_places_the_property_test_uses_are_rendered(rendered: dict[str, dict[str, bytes]]) -> None:
    """The random trees are built where the render goes; keep ``PLACES`` in step with the layout."""
    ours = set(rendered["two"]) | set(directories(rendered["two"]))
    assert set(PLACES) - ours == {"notes.md", "instances/shop/notes.md"}


def _make(out: Path, outside: Path, relative: str, kind: str, data: bytes) -> None:
    path = out / relative
    for parent in reversed(path.relative_to(out).parents):
        here = out / parent
        if os.path.lexists(here) and (here.is_symlink() or not here.is_dir()):
            return  # the parent is not a real directory: nothing to make here
    if kind == "fifo" and relative == STATE:
        return  # a FIFO as the state file is the loader's concern (issue 10, section 3), not the writer's
    if kind != "hostile-state" and os.path.lexists(path):  # replace what is there (a rendered folder, say)
        shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind in ("file", "readonly-file"):
        # A state file that is not UTF-8 is issue 10 section 3's (read_state, a located error there): text here.
        path.write_bytes(data.decode("utf-8", "replace").encode() if relative == STATE else data)
        if kind == "readonly-file":
            path.chmod(0o444)
    elif kind in ("dir", "readonly-dir"):
        path.mkdir()
        if kind == "readonly-dir":
            path.chmod(0o555)
    elif kind == "link-outside-dir":
        path.symlink_to(outside / "shop", target_is_directory=True)
    elif kind == "link-outside-file":
        path.symlink_to(outside / "secret.txt")
    elif kind == "link-inside":
        path.symlink_to(out / "instances", target_is_directory=True)
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "hostile-state" and (out / STATE).is_file() and not (out / STATE).is_symlink():
        try:
            state = json.loads((out / STATE).read_text())
            state["files"].append(data.decode("latin-1") if data else "../outside/secret.txt")
        except (ValueError, TypeError, KeyError, AttributeError):
            return  # not a state file (an earlier entry replaced it)
        (out / STATE).write_text(json.dumps(state))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(prior=st.sampled_from([None, "one", "two"]),
       entries=st.lists(st.tuples(st.sampled_from(PLACES), st.sampled_from(KINDS), st.binary(max_size=8)),
                        max_size=5),
       choice=st.sampled_from(INPUTS))
def test_a_render_succeeds_or_changes_nothing(specs: dict[str, Path], rendered: dict[str, dict[str, bytes]],
                                              prior: str | None, entries: list[tuple[str, str, bytes]],
                                              choice: tuple[str, tuple[str, ...]]) -> None:
    inputs, extra = choice
    with tempfile.TemporaryDirectory() as temp:
        base = Path(temp)
        out, outside = box(base, rendered[prior] if prior else None)
        out.mkdir(exist_ok=True)
        for relative, kind, content in entries:
            _make(out, outside, relative, kind, content)
        before = picture(base)
        result = run(render_args(specs[inputs], out, *extra))
        assert "Traceback" not in result.stderr
        assert result.exit_code in (0, 1), result.stderr
        after = picture(base)
        if result.exit_code:
            assert after == before, result.stderr
            return
        assert inputs != "bad"
        assert inputs != "empty" or extra
        outside_out = {k: v for k, v in before.items() if not k.startswith("out/")}
        assert {k: v for k, v in after.items() if not k.startswith("out/")} == outside_out
        links = {k: v for k, v in before.items() if v[0] in ("link", "special")}
        assert {k: after.get(k) for k in links} == links  # every symlink and FIFO still there, as it was
        expected = rendered.get(inputs, {})
        for relative, content in expected.items():
            if relative != STATE:
                assert after[f"out/{relative}"][:2] == ("file", content)
        for key, value in before.items():  # files fedrender doesn't own and doesn't render are untouched
            owned = key.removeprefix("out/") in (set(rendered[prior]) if prior else set())
            if value[0] == "file" and key.startswith("out/") and not owned \
                    and key.removeprefix("out/") not in expected:
                assert after.get(key) == value, key


def test_a_folder_this_process_may_not_write_is_refused_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               rendered: dict[str, dict[str, bytes]]) -> None:
    """Permissions are checked before anything changes. Tests run as root, whom no mode bit stops, so the
    answer of access(2) for one folder of --out is what is faked here."""
    out, _ = box(tmp_path, rendered["one"])
    before = picture(tmp_path)
    locked = out / "instances" / "shop"  # where the second instance's folder would be made
    real_access = os.access

    def access(path: object, mode: int, **kwargs: object) -> bool:
        return Path(str(path)) != locked and real_access(path, mode)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "access", access)
    with pytest.raises(WriteRefused) as refused:
        write_tree(out, rendered["two"])
    assert any(d.location and d.location.file == str(locked / "catalog" / "statefulset-catalog.yaml") and
               f"no write permission on {locked}" in d.message for d in refused.value.diagnostics)
    assert picture(tmp_path) == before


def test_an_os_refusal_while_checking_is_a_located_error(tmp_path: Path) -> None:
    box(tmp_path)
    (tmp_path / "out").mkdir()
    before = picture(tmp_path)
    with pytest.raises(WriteRefused, match="cannot examine the output directory: File name too long"):
        write_tree(tmp_path / "out", {"a" * 300 + "/b.yaml": b"x\n"})
    assert picture(tmp_path) == before


def test_a_dangling_symlink_as_out_is_refused_and_its_target_not_created(tmp_path: Path,
                                                                          specs: dict[str, Path]) -> None:
    # --out may be a symlink to a directory (the user named it), but a dangling one would make fedrender
    # create a directory somewhere else.
    out = tmp_path / "out"
    out.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    before = picture(tmp_path)
    result = run(render_args(specs["one"], out))
    assert_refused(result, f"{out}: error: the output directory is a symlink to", before, tmp_path)
    assert not (tmp_path / "elsewhere").exists()
