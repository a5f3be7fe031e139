"""`kata doctor`: what this machine and checkout give the grader, one fact a line.

It imports torch (to ask for CUDA and threads) but never any learner code; the extras and dev
tools are looked up by their installed metadata, not imported.
"""

from __future__ import annotations

import os
import sys
from importlib import metadata

from grader import isolation
from grader.catalog import PACKAGE_DIR, REPO_ROOT, load_catalog
from grader.runner import install_command

DEV_TOOLS = ("ruff", "mypy", "pytest-xdist", "jsonschema", "xmlschema")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def python_line() -> str:
    return f"python: {sys.version.split()[0]} ({sys.executable})"


def torch_lines() -> list[str]:
    try:
        import torch
    except ImportError:
        return ["torch: not installed: ./scripts/bootstrap"]
    lines = [f"torch: {torch.__version__}"]
    if torch.cuda.is_available():
        names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        lines.append(f"CUDA: available ({names}; CUDA {torch.version.cuda})")
    else:
        build = f"built for CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU build"
        lines.append(f"CUDA: not available (torch is {build}); --device cuda checks are skipped")
    settings = ", ".join(f"{name}={os.environ.get(name, 'unset')}" for name in THREAD_VARIABLES)
    lines.append(f"threads: torch uses {torch.get_num_threads()} here ({settings}); the grader's "
                 "worker runs with 1")
    return lines


def extras_lines() -> list[str]:
    lines = []
    for rung in load_catalog():
        if not rung.extra:
            continue
        versions = {name: _version(name) for name in rung.requires}
        if all(versions.values()):
            found = ", ".join(f"{name} {version}" for name, version in versions.items())
            lines.append(f"extra {rung.extra} ({rung.id}): {found}")
        else:
            missing = ", ".join(name for name, version in versions.items() if not version)
            lines.append(f"extra {rung.extra} ({rung.id}): not installed ({missing}): "
                         f"{install_command(rung.extra)}")
    return lines


def dev_tools_line() -> str:
    versions = {name: _version(name) for name in DEV_TOOLS}
    present = ", ".join(f"{name} {v}" for name, v in versions.items() if v) or "none"
    missing = [name for name, v in versions.items() if not v]
    line = f"dev tools: {present}"
    if missing:
        line += f"; not installed: {', '.join(missing)} (`make test` and `make lint` add them)"
    return line


def vocab_line() -> str:
    files = sorted(PACKAGE_DIR.rglob("*.tiktoken"))
    if not files:
        return "GPT-2 vocab: not shipped"
    return "GPT-2 vocab: " + ", ".join(str(path.relative_to(REPO_ROOT)) for path in files)


def user_line() -> str:
    if isolation.running_as_root():
        return ("user: root; the grader's worker drops to an unprivileged user of its own for "
                "each check (kata check warns when it cannot)")
    uid = os.getuid() if hasattr(os, "getuid") else None
    who = f"uid {uid}" if uid is not None else "this user"
    return f"user: {who}, not root; the grader's worker runs learner code as this user"


def doctor_lines() -> list[str]:
    """Every line of `kata doctor`, in the order printed."""
    return [python_line(), *torch_lines(), *extras_lines(), dev_tools_line(), vocab_line(),
            user_line()]
