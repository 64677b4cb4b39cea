"""``fedrender schema`` and ``rules check``/``rules test``: for rule pack authors and editors, the input
schema of a pack, the type check of its CEL expressions and the run of its ``tests.yaml``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from fedrender.cli.console import emit, fail
from fedrender.cli.options import PATH, examples, output_option
from fedrender.models.diagnostics import InputError
from fedrender.pipeline.load import load_packs
from fedrender.pipeline.ruletests import load_tests, run_tests
from fedrender.pipeline.schemas import builtin_schemas, pack_schema


@click.command("schema", epilog=examples(
    "fedrender schema MultiCloudMongoDB > multicloudmongodb.schema.json",
    "fedrender schema Cluster > cluster.schema.json",
    "fedrender schema multicloudmongodb --rules rules/"))
@click.argument("kind")
@click.option("--rules", type=PATH, default=None, help="Rule pack directory (default: the shipped packs).")
def schema_command(kind: str, rules: Path | None) -> None:
    """Print the JSON Schema of an input KIND (any case), for editors and validators: a rule pack's input kind,
    or one of fedrender's own inputs (Cluster: the snapshot, Clusters and MongoReplicaSets; Overlay, RulePack,
    RuleTests, State). --rules, when given, must hold valid packs whichever KIND is asked for."""
    builtin = {name.lower(): data for name, data in builtin_schemas().items()}
    try:  # --rules is read whichever KIND is asked for: a wrong path is never silently ignored
        packs = load_packs(rules) if rules is not None or kind.lower() not in builtin else []
    except InputError as exc:
        fail(exc.diagnostics, what="found in the rule packs")
    if kind.lower() in builtin:
        click.echo(json.dumps(builtin[kind.lower()], indent=2, sort_keys=True))
        return
    found = [pack for pack in packs if pack.kind.lower() == kind.lower()]
    if not found:
        raise click.BadParameter(f"no rule pack takes {kind!r} and it is none of fedrender's inputs; the packs "
                                 f"take {', '.join(sorted(p.kind for p in packs))}, and fedrender reads "
                                 f"{', '.join(builtin_schemas())}", param_hint="'KIND'")
    click.echo(json.dumps(pack_schema(found[0]), indent=2, sort_keys=True))


@click.group("rules", epilog=examples("fedrender rules check rules/", "fedrender rules test rules/"))
def rules_group() -> None:
    """Check and test rule packs."""


@rules_group.command("check", epilog=examples(
    "fedrender rules check",
    "fedrender rules check rules/"))
@click.argument("directory", required=False, type=PATH)
@output_option("text", "json", "yaml")
def rules_check(directory: Path | None, output: str) -> None:
    """Type-check every expression of the packs in DIRECTORY (default: the shipped packs)."""
    try:
        packs = load_packs(directory)
        for pack in packs:
            load_tests(pack.directory)
    except InputError as exc:
        fail(exc.diagnostics, what="found in the rule packs")
    rows = [{"directory": str(pack.directory), "name": pack.name, "version": pack.version, "kind": pack.kind,
             "apiVersion": pack.api_version, "variables": len(pack.variables),
             "rules": len(pack.validations) + len(pack.filters) + len(pack.scores) + len(pack.checks)
             + len(pack.overrides) + len(pack.platform_checks), "templates": len(pack.templates)} for pack in packs]
    if output != "text":
        emit({"packs": rows}, output)
        return
    for row in rows:
        click.echo(f"ok - {row['directory']} - {row['name']} {row['version']}: {row['kind']}, {row['variables']} "
                   f"variables, {row['rules']} rules, {row['templates']} templates")


@rules_group.command("test", epilog=examples(
    "fedrender rules test",
    "fedrender rules test rules/"))
@click.argument("directory", required=False, type=PATH)
@output_option("text", "json", "yaml")
def rules_test(directory: Path | None, output: str) -> None:
    """Run the tests.yaml of the packs in DIRECTORY (default: the shipped packs)."""
    try:
        packs = load_packs(directory)
        outcomes = [o for pack in packs for o in run_tests(pack.directory)]
    except InputError as exc:
        fail(exc.diagnostics, what="found in the rule packs")
    untested = [str(pack.directory) for pack in packs if load_tests(pack.directory) is None]
    failed = sum(bool(o.failures) for o in outcomes)
    if output != "text":
        emit({"cases": [{"file": o.file, "case": o.case, "passed": not o.failures, "failures": o.failures}
                        for o in outcomes], "passed": len(outcomes) - failed, "failed": failed,
              "withoutTests": untested}, output)
    else:
        for directory_name in untested:
            click.echo(f"WARN - {directory_name} - no tests.yaml")
        for outcome in outcomes:
            for failure in outcome.failures:
                click.echo(f"FAIL - {outcome.file} - {outcome.case} - {failure}")
        click.echo(f"{len(outcomes) - failed} passed, {failed} failed")
    if failed or not outcomes:
        sys.exit(1)
