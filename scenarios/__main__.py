"""The offline demo: every registered pattern's scenario, run against its stack in the local cloud.

``python -m scenarios`` synthesizes the stacks (or reads ``--assembly cdk.out``), plays each
pattern's scenario, prints its trace and checks, then a summary table. It exits 1 when any
scenario did not hold, so it doubles as a smoke test of a deployable build.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import warnings
from pathlib import Path

from scenarios import Outcome, play, stack_parameters

MARK = {True: "held", False: "FAILED"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scenarios", description=__doc__.splitlines()[0])
    parser.add_argument("patterns", nargs="*", help="pattern ids (default: every registered pattern)")
    parser.add_argument("--assembly", help="a synthesized cloud assembly (cdk.out); default: synthesize now")
    parser.add_argument("--quiet", action="store_true", help="print only the checks and the summary")
    parser.add_argument(
        "--logs",
        action="store_true",
        help="also print what the handlers print (log lines, EMF metrics) and what moto logs",
    )
    parser.add_argument(
        "--physical-names",
        action="store_true",
        help="name resources in the trace by physical name, not construct path",
    )
    parser.add_argument(
        "--full", action="store_true", help="print every span, not repeated siblings once with a count"
    )
    parser.add_argument(
        "--report",
        metavar="DIR",
        help="write an HTML page per scenario into DIR: its Mermaid sequence diagram and trace",
    )
    args = parser.parse_args(argv)
    # Powertools warns when an invocation adds no metric; the cold-start metric is enough here.
    warnings.filterwarnings("ignore", "No application metrics to publish")

    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from localcloud import LocalCloud
    from localcloud.console import stack_output
    from localcloud.core.assembly import load_stack
    from localcloud.report import write_report
    from patterns.registry import PATTERNS, get

    shown = {"physical": args.physical_names, "full": args.full}

    chosen = [get(pattern_id) for pattern_id in args.patterns] or list(PATTERNS)
    with tempfile.TemporaryDirectory(prefix="cdk.out.") as scratch:
        assembly = args.assembly or _synthesize(scratch)
        outcomes = []
        for pattern in chosen:
            for variant, stack_name in pattern.stacks():
                with stack_parameters(pattern.id) as parameters:
                    cloud = LocalCloud(load_stack(assembly, stack_name), parameters=parameters)
                    with cloud, stack_output(show=args.logs, to=sys.stdout):
                        outcome = play(cloud, pattern.id, variant)
                outcome.trace = cloud.trace.tree(**shown)
                outcomes.append(outcome)
                _print_outcome(pattern.title, stack_name, outcome, quiet=args.quiet)
                if args.report:
                    page = write_report(
                        Path(args.report) / f"{stack_name}.html",
                        f"{pattern.title} ({stack_name})",
                        cloud.trace,
                        **shown,
                    )
                    print(f"  report: {page}")
    _print_summary(outcomes)
    return 0 if all(outcome.held for outcome in outcomes) else 1


def _synthesize(outdir: str) -> str:
    from patterns.stack import UNSTAGED, build_app

    return build_app(builtin_validation=False, outdir=outdir, context=UNSTAGED).synth().directory


def _print_outcome(title: str, stack_name: str, outcome: Outcome, *, quiet: bool) -> None:
    print(f"\n=== {title} ({stack_name}) ===")
    if not quiet:
        print(outcome.trace)
    for check in outcome.checks:
        line = f"  [{MARK[check.held]}] {check.what}"
        print(line if check.held else f"{line}: {check.detail}")
    if outcome.error:
        print(f"  [FAILED] the scenario raised:\n{outcome.error}")


def _print_summary(outcomes: list[Outcome]) -> None:
    print("\n| Pattern | Checks held | Scenario |\n|---|---|---|")
    for outcome in outcomes:
        held = sum(check.held for check in outcome.checks)
        print(f"| {outcome.label} | {held}/{len(outcome.checks)} | {MARK[outcome.held]} |")


if __name__ == "__main__":
    sys.exit(main())
