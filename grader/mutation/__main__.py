"""`python -m grader.mutation` (`make mutation`): the mutation score of every rung's reference.

    python -m grader.mutation                 every available rung; exit 1 if one is below 95%
    python -m grader.mutation --rung 01       one rung (repeat --rung for more)
    python -m grader.mutation --list          the mutants, without grading them
    python -m grader.mutation --jobs 1 --no-exit-first --operator tensor/dim --device cuda
    python -m grader.mutation --markdown survivors.md   the survivors, also as Markdown
    python -m grader.mutation --rescore       the last results again, with the equivalents
                                              recorded since (no grading)

On the CPU, mutants recorded as gpu_only (only a GPU tells them apart) are not graded: they are
counted and listed apart, as "gpu-only", and left out of the score. --device cuda grades them.

A dev tool (cosmic-ray comes with the dev extra), not a learner's command.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("cosmic_ray") is None:  # before anything imports it
    sys.exit("grader.mutation needs cosmic-ray, from the dev extra: run `make mutation` "
             "(it installs it) or `scripts/bootstrap dev`")

from grader.catalog import load_catalog, resolve  # noqa: E402
from grader.mutation.grade import (  # noqa: E402
    PASS_SCORE,
    WORK_DIR,
    Outcome,
    grade_rung,
    markdown,
    rescore,
    write_json,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.mutation", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rung", action="append", help="a rung (01, 01-tensors); repeatable")
    parser.add_argument("--list", action="store_true", help="show the mutants, grade none")
    parser.add_argument("--jobs", type=int, default=2, help="mutants graded at once (2)")
    parser.add_argument("--no-exit-first", action="store_true",
                        help="run every check of a mutant, not only up to the first failure")
    parser.add_argument("--operator", action="append", help="only this operator; repeatable")
    parser.add_argument("--device", default="cpu",
                        help="grade on this device (cuda: the gpu checks run too)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no line per mutant")
    parser.add_argument("--rescore", action="store_true",
                        help="no grading: the last results with the current equivalents files")
    parser.add_argument("--markdown", metavar="FILE",
                        help="also write the survivors of the rungs run to FILE (Markdown)")
    args = parser.parse_args(argv)
    rungs = [resolve(r) for r in args.rung] if args.rung else \
        [r for r in load_catalog() if r.status == "available"]
    below = []
    results = []
    for rung in rungs:
        def progress(outcome: Outcome, rung_id: str = rung.id) -> None:
            if not args.quiet:
                mark = "K" if outcome.status == "killed" else "S"
                print(f"  {mark} {outcome.seconds:5.1f}s {outcome.mutant.describe(rung_id)}"
                      f"{'  <- ' + outcome.how if outcome.how else ''}", flush=True)

        if args.rescore:
            found = rescore(rung)
            if found is None:
                print(f"{rung.id}: no results in {WORK_DIR}; grade it first")
                continue
            score = found
        else:
            score = grade_rung(rung, jobs=args.jobs, exit_first=not args.no_exit_first,
                               device=args.device, operators=args.operator,
                               list_only=args.list, on_mutant=progress)
        if args.list:
            for outcome in score.outcomes:
                tag = f"  ({outcome.status}: {outcome.reason})" if outcome.reason else ""
                print(f"{outcome.mutant.describe(score.filename)}{tag}")
            gpu = (f", {score.count('gpu-only')} gpu-only (not graded on the CPU)"
                   if score.count("gpu-only") else "")
            print(f"{rung.id}: {len(score.outcomes)} mutants, "
                  f"{score.count('equivalent')} recorded equivalent{gpu}")
            continue
        if not args.rescore:
            write_json(score)
        if score.baseline == "skipped":
            print(f"{rung.id}: skipped (its extra is not installed)")
            continue
        results.append(score.as_dict())
        value = score.score
        gpu = (f", {score.count('gpu-only')} gpu-only (not graded on the CPU, not in the score)"
               if score.count("gpu-only") else "")
        print(f"{rung.id}: {len(score.outcomes)} mutants, {score.count('killed')} killed, "
              f"{score.count('survived')} survived, {score.count('equivalent')} equivalent"
              f"{gpu}: score {'-' if value is None else f'{value:.1%}'} "
              f"({score.seconds:.0f} s; {WORK_DIR / (rung.id + '.json')})", flush=True)
        for outcome in score.outcomes:
            if outcome.status == "survived":
                print(f"  survived: {outcome.mutant.describe(score.filename)}")
        for outcome in score.outcomes:
            if outcome.status == "gpu-only":
                print(f"  gpu-only: {outcome.mutant.describe(score.filename)}  "
                      f"(grade with --device cuda)")
        if value is not None and value < PASS_SCORE:
            below.append(f"{rung.id} {value:.1%}")
    if args.markdown and results:
        Path(args.markdown).write_text(markdown(results), encoding="utf-8")
    if below:
        print(f"below {PASS_SCORE:.0%}: {', '.join(below)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
