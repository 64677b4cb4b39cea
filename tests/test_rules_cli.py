"""`fedrender rules check` and `fedrender rules test`, as a rule author uses them."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import ROOT, run


def _copy(tmp_path: Path, pack: str = "mongodb") -> Path:
    target = tmp_path / pack
    shutil.copytree(ROOT / "rules" / pack, target)
    return target


def test_the_shipped_packs_check_and_pass_their_tests() -> None:
    check = run(["rules", "check"])
    assert check.exit_code == 0, check.stderr
    assert "ok - " in check.stdout
    tested = run(["rules", "test"])
    assert tested.exit_code == 0, tested.stdout
    assert tested.stdout.splitlines()[-1].endswith(" passed, 0 failed")


def test_a_broken_rule_is_reported_at_file_line_col_with_a_caret(tmp_path: Path) -> None:
    pack = _copy(tmp_path)
    text = (pack / "pack.yaml").read_text()
    broken = text.replace("expression: cluster.fits >= 1", "expression: cluster.fits >= '1'", 1)
    (pack / "pack.yaml").write_text(broken)
    line = broken.splitlines().index("        expression: cluster.fits >= '1'") + 1
    result = run(["rules", "check", str(pack)])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    head = f"{pack / 'pack.yaml'}:{line}:34: error: rule 'has-room': found no matching overload for '_>=_'"
    index = next(i for i, t in enumerate(lines) if t.startswith(head))
    assert lines[index + 1] == " |         expression: cluster.fits >= '1'"
    assert lines[index + 2] == " | " + " " * 33 + "^"
    assert lines[-1] == "fedrender: 1 error found in the rule packs"


def test_every_problem_of_a_pack_is_reported_together(tmp_path: Path) -> None:
    pack = _copy(tmp_path)
    text = (pack / "pack.yaml").read_text()
    text = text.replace("expression: cluster.ready", "expression: cluster.redy", 1)
    text = text.replace('tags: \'{"cluster": member.cluster}\'', "tags: 'member.clustr'", 1)
    (pack / "pack.yaml").write_text(text)
    template = pack / "templates" / "service-headless.yaml"
    template.write_text(template.read_text().replace("${metadata.name}", "${metadata.nmae}", 1))
    result = run(["rules", "check", str(pack)])
    assert result.exit_code == 1
    assert "undefined field 'redy'" in result.stderr
    assert "undefined field 'clustr'" in result.stderr
    assert f"{template}:5:19: error: rule 'template templates/service-headless.yaml': undefined field 'nmae'" \
        in result.stderr
    assert "3 errors found in the rule packs" in result.stderr


def test_a_failing_case_prints_a_fail_line_and_the_summary(tmp_path: Path) -> None:
    pack = _copy(tmp_path)
    tests = pack / "tests.yaml"
    tests.write_text(tests.read_text().replace("placement: {alpha: 1, bravo: 1, charlie: 1}",
                                               "placement: {alpha: 3}", 1))
    result = run(["rules", "test", str(pack)])
    assert result.exit_code == 1
    assert (f"FAIL - {tests} - three members one per cluster - placement is "
            "{'alpha': 1, 'bravo': 1, 'charlie': 1}, expected {'alpha': 3}") in result.stdout
    assert result.stdout.splitlines()[-1].endswith(" passed, 1 failed")
