"""`python -m infra plan|cost-diff|schema|outputs`: the offline plan, what a change costs, and the
references of the stack config and outputs; no Pulumi CLI needed."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pulumi.runtime import set_all_config

from components.core.costs import monthly_total, total
from infra.config import NAMESPACE, ConfigError, load_stack_config
from infra.config.reference import render_reference
from infra.config.schema import stack_file_schema
from infra.outputs import render_reference as render_outputs
from infra.plan.cost import CostFileError, cost_record, read_cost, render_diff
from infra.plan.mocks import DEFAULT_ACCOUNT, PlatformMocks
from infra.plan.run import run_program
from infra.plan.stackfile import StackFileError, read_stack
from infra.plan.summary import render_summary, stack_costs
from infra.plan.write import HELM_RELEASE, is_manifest, write_plan
from infra.program import main as program
from infra.program import project_dir

EXIT_INVALID = 2


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    plan = commands.add_parser("plan", help="run the stack program offline and write what it would create")
    plan.add_argument("--stack", required=True, help="stack name: reads Pulumi.<stack>.yaml")
    plan.add_argument("--config", type=Path, help="stack file to read instead of Pulumi.<stack>.yaml")
    plan.add_argument("--out", type=Path, help="output directory (default build/plan/<stack>)")
    diff = commands.add_parser(
        "cost-diff", help="print how the monthly cost changes from one plan to another"
    )
    diff.add_argument("base", type=Path, help="plan directory (or its cost.json) before the change")
    diff.add_argument("head", type=Path, help="plan directory (or its cost.json) after the change")
    schema = commands.add_parser("schema", help="print the JSON Schema of Pulumi.<stack>.yaml")
    schema.add_argument("--markdown", action="store_true", help="print the config reference instead")
    commands.add_parser("outputs", help="print the reference of the stack outputs (docs/outputs.md)")
    args = parser.parse_args(argv)

    if args.command == "outputs":
        print(render_outputs(), end="")
        return 0
    if args.command == "cost-diff":
        try:
            print(render_diff(read_cost(args.base), read_cost(args.head)), end="")
        except CostFileError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_INVALID
        return 0
    if args.command == "schema":
        if args.markdown:
            print(render_reference(), end="")
        else:
            print(json.dumps(stack_file_schema(), indent=2))
        return 0
    return _plan(args.stack, args.config, args.out or Path("build/plan") / args.stack)


def _plan(stack: str, stack_file: Path | None, out: Path) -> int:
    try:
        files = read_stack(project_dir(), stack, stack_file)
    except StackFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    set_all_config(files.config, sorted(files.secret_keys))
    try:
        # the stack file says which values are `secure:`; the engine's flags are per key only
        cfg = load_stack_config(*files.sections(NAMESPACE), project_dir=project_dir())
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_INVALID

    account = cfg.aws.allowed_account_ids[0] if cfg.aws.allowed_account_ids else DEFAULT_ACCOUNT
    result = run_program(
        program,
        project=files.project,
        stack=stack,
        config=files.config,
        secret_keys=files.secret_keys,
        mock=PlatformMocks(region=cfg.aws.region, account=account),
    )
    regs = result.registrations
    write_plan(out, regs, render_summary(cfg, stack, regs), result.stack_outputs, cost_record(cfg, stack))

    low, high = total(stack_costs(cfg))
    month_low, month_high = monthly_total(stack_costs(cfg))
    manifests = sum(1 for r in regs if is_manifest(r))
    releases = sum(1 for r in regs if r.type == HELM_RELEASE)
    print(
        f"plan of stack {stack}: {len(regs)} resources, {manifests} Kubernetes manifests, {releases} Helm releases"
    )
    print(f"hourly cost: ${low:,.2f} at minimum scale, ${high:,.2f} at maximum scale")
    print(f"monthly estimate: ${month_low:,.0f} at minimum scale, ${month_high:,.0f} at maximum scale")
    print(f"wrote {out}/ (resources.json, manifests/, helm/, summary.md, outputs.json, cost.json)")
    return 0
