"""Grade mutants through the runner, as a learner's module is graded: a mutant is killed when the
rung's status is not "pass" (any check failing, the run erroring or timing out, the source rules
refusing it), survived when it passes, equivalent when a reviewed entry names it. A mutant
whose entry says gpu_only is "gpu-only" on the CPU: not graded, left out of the score, and
reported apart; on a GPU (`device="cuda"`) it is graded like the rest.

Mutants are written to .kata/mutation/<rung>/ (ignored), never into reference/.
"""

from __future__ import annotations

import ast
import json
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from grader import runner
from grader.catalog import REPO_ROOT, Rung
from grader.mutation.equivalents import Equivalent, load
from grader.mutation.generate import Mutant, function_at, generate

WORK_DIR = REPO_ROOT / ".kata" / "mutation"
PASS_SCORE = 0.95


@dataclass
class Outcome:
    mutant: Mutant
    status: str  # killed, survived, equivalent, gpu-only (on the CPU), or not-graded (--list)
    how: str = ""  # for killed: the first failing check, "timeout", "error: ...", "refused"
    seconds: float = 0.0
    reason: str = ""  # for equivalent and gpu-only


@dataclass
class RungScore:
    rung: str
    filename: str
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0
    baseline: str = ""  # the reference's own status: anything but pass makes the score void
    device: str = "cpu"  # what it was graded on

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def score(self) -> float | None:
        graded = len(self.outcomes) - self.count("equivalent") - self.count("gpu-only")
        if graded <= 0 or self.count("not-graded"):
            return None
        return self.count("killed") / graded

    def as_dict(self) -> dict[str, Any]:
        return {"rung": self.rung, "file": self.filename, "generated": len(self.outcomes),
                "killed": self.count("killed"), "survived": self.count("survived"),
                "equivalent": self.count("equivalent"), "gpu_only": self.count("gpu-only"),
                "score": self.score, "device": self.device,
                "seconds": round(self.seconds, 1), "baseline": self.baseline,
                "mutants": [{**o.mutant.as_dict(), "status": o.status, "how": o.how,
                             "seconds": round(o.seconds, 2), "reason": o.reason}
                            for o in self.outcomes]}


def _how(result: Any) -> str:
    if result.status == "pass":
        return ""
    failing = [t for t in result.tests if t.status not in ("pass", "skipped", "gray")]
    if failing:
        first = failing[0]
        return f"{first.status}: {first.task}/{first.category} {first.name.rsplit('::', 1)[-1]}"
    # no check failed: the source rules refused it, or the run timed out, crashed, errored
    message = (result.message or result.status).strip().splitlines()[0][:160]
    return f"{result.status}: {message}"


def grade_rung(rung: Rung, *, jobs: int = 2, exit_first: bool = True, device: str = "cpu",
               operators: list[str] | None = None, list_only: bool = False,
               on_mutant: Callable[[Outcome], None] | None = None) -> RungScore:
    """Generate the rung reference's mutants and grade each one not recorded as equivalent
    (nor, on the CPU, as gpu_only)."""
    source = rung.reference_path.read_text(encoding="utf-8")
    mutants = generate(source, operators)
    equivalents: dict[tuple[str, str, str, str], Equivalent] = {e.key: e for e in load(rung.id)}
    score = RungScore(rung.id, f"reference/{rung.id}/{rung.module}", device=device)
    started = time.monotonic()
    pending: list[tuple[int, Mutant]] = []
    outcomes: dict[int, Outcome] = {}
    for index, mutant in enumerate(mutants):
        known = equivalents.get(mutant.key)
        if known is not None and not known.gpu_only:
            outcomes[index] = Outcome(mutant, "equivalent", reason=known.reason)
        elif known is not None and not on_gpu(device):
            outcomes[index] = Outcome(mutant, "gpu-only", reason=known.reason)
        elif list_only:
            outcomes[index] = Outcome(mutant, "not-graded")
        else:
            pending.append((index, mutant))
    if pending:
        folder = WORK_DIR / rung.id
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        runner.start_warm_worker()
        reference, _ = runner.check_rung(rung, impl="reference", device=device)
        score.baseline = reference.status
        if reference.status == "skipped":  # its extra is not installed: nothing to grade
            score.outcomes = [Outcome(m, "not-graded") for m in mutants]
            score.device = device
            return score
        if reference.status != "pass":
            raise SystemExit(f"{rung.id}: the reference itself gets {reference.status} "
                             f"({reference.message[:200]}); no mutant can be graded")
        # a mutant that loops forever is stopped by the per-check CPU limit (the plugin's), and
        # the whole run well before the rung's own limit: the worker's CPU limit and the
        # runner's deadline both follow this timeout
        timeout = min(float(rung.timeout), max(30.0, 8 * reference.duration))
        lock = threading.Lock()

        def grade(item: tuple[int, Mutant]) -> None:
            index, mutant = item
            path = folder / f"m{index:03d}_{rung.module}"
            path.write_text(mutant.source, encoding="utf-8")
            began = time.monotonic()
            result, _ = runner.check_rung(rung, impl=str(path), device=device,
                                          timeout=timeout, exit_first=exit_first)
            seconds = time.monotonic() - began
            known = equivalents.get(mutant.key)  # a gpu_only one, graded on a GPU
            reason = known.reason if known is not None else ""
            if result.status == "pass":
                outcome = Outcome(mutant, "survived", seconds=seconds, reason=reason)
            else:
                outcome = Outcome(mutant, "killed", how=_how(result), seconds=seconds,
                                  reason=reason)
            with lock:
                outcomes[index] = outcome
                if on_mutant is not None:
                    on_mutant(outcome)

        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            list(pool.map(grade, pending))
    score.outcomes = [outcomes[i] for i in range(len(mutants))]
    score.seconds = time.monotonic() - started
    return score


def on_gpu(device: str) -> bool:
    """Whether grading on `device` runs the gpu checks (what a gpu_only mutant needs)."""
    return device.split(":", 1)[0] == "cuda"


def rescore(rung: Rung) -> RungScore | None:
    """The rung's last results (.kata/mutation/<rung>.json) with the equivalents files as they
    are now: recording an equivalent changes the score without grading again. Mutants the
    generator no longer makes are left out; ones it makes now that were never graded are
    "not-graded" (no score until the rung is graded again), and so is a mutant graded on a GPU
    as gpu_only whose entry is gone since. None when there are no results."""
    path = WORK_DIR / f"{rung.id}.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    source = rung.reference_path.read_text(encoding="utf-8")
    current = generate(source)
    keys = {m.key for m in current}

    tree = ast.parse(source)
    for m in data["mutants"]:  # results written before mutants named their function
        m.setdefault("function", function_at(tree, m["line"]))

    def key(m: dict[str, Any]) -> tuple[str, str, str, str]:
        return (m["operator"], m["function"], m["before"], m["after"])

    recorded = [m for m in data["mutants"] if key(m) in keys]
    graded = {key(m) for m in recorded}
    recorded += [{**m.as_dict(), "status": "not-graded", "how": "", "seconds": 0.0}
                 for m in current if m.key not in graded]
    equivalents = {e.key: e for e in load(rung.id)}
    device = data.get("device", "cpu")  # results written before gpu_only: the CPU's
    score = RungScore(rung.id, data["file"], seconds=data["seconds"], baseline=data["baseline"],
                      device=device)
    for m in sorted(recorded, key=lambda m: m["line"]):
        mutant = Mutant(m["operator"], -1, m["line"], m["function"], m["before"], m["after"],
                        "")
        known = equivalents.get(mutant.key)
        if known is not None and not known.gpu_only:
            score.outcomes.append(Outcome(mutant, "equivalent", reason=known.reason))
        elif known is not None and not on_gpu(device):
            score.outcomes.append(Outcome(mutant, "gpu-only", reason=known.reason))
        elif m["status"] in ("equivalent", "gpu-only"):  # no longer recorded, never graded
            score.outcomes.append(Outcome(mutant, "not-graded"))
        else:
            score.outcomes.append(Outcome(mutant, m["status"], how=m["how"],
                                          seconds=m["seconds"]))
    return score


def write_json(score: RungScore) -> None:
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    (WORK_DIR / f"{score.rung}.json").write_text(json.dumps(score.as_dict(), indent=1) + "\n",
                                                 encoding="utf-8")


def markdown(results: list[dict[str, Any]]) -> str:
    """The survivors of rungs' JSON results (RungScore.as_dict), as a Markdown report."""
    lines = ["# Mutation survivors", "",
             "| rung | generated | killed | survived | equivalent | gpu-only | score |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        score = "-" if r["score"] is None else f"{r['score']:.1%}"
        lines.append(f"| {r['rung']} | {r['generated']} | {r['killed']} | {r['survived']} | "
                     f"{r['equivalent']} | {r.get('gpu_only', 0)} | {score} |")
    for r in results:
        lines += ["", f"## {r['rung']} ({r['file']})", ""]
        survivors = [m for m in r["mutants"] if m["status"] == "survived"]
        lines += [f"- `{r['file']}:{m['line']}` ({m['function'] or 'module'}): `{m['before']}`"
                  f" -> `{m['after'] or '(removed)'}` [{m['operator']}]"
                  for m in survivors] or ["No survivors."]
        equivalent = [m for m in r["mutants"] if m["status"] == "equivalent"]
        if equivalent:
            lines += ["", "Recorded equivalent:", ""]
            lines += [f"- `{r['file']}:{m['line']}` ({m['function'] or 'module'}): "
                      f"`{m['before']}` -> `{m['after']}` [{m['operator']}]: {m['reason']}"
                      for m in equivalent]
        gpu_only = [m for m in r["mutants"] if m["status"] == "gpu-only"]
        if gpu_only:
            lines += ["", "Only a GPU tells apart (gpu_only; not graded on the CPU, left out of "
                      "the score; grade with --device cuda):", ""]
            lines += [f"- `{r['file']}:{m['line']}` ({m['function'] or 'module'}): "
                      f"`{m['before']}` -> `{m['after'] or '(removed)'}` [{m['operator']}]: "
                      f"{m['reason']}" for m in gpu_only]
    return "\n".join(lines) + "\n"
