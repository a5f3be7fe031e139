"""Fixtures for the project's own tests."""

import pytest

from grader import runner


def pytest_configure(config):
    """The project's tests grade through a warm worker, as `kata check --all` does (one zygote
    per test process); `KATA_SERVER=0`-style cold runs are tested where they matter."""
    if not hasattr(config, "workerinput") and config.getoption("numprocesses", None):
        return  # the xdist controller grades nothing itself
    runner.start_warm_worker()


@pytest.fixture(autouse=True)
def _private_progress(tmp_path, monkeypatch):
    """Checks of the exercises record progress; keep the tests' out of the real .kata/."""
    monkeypatch.setattr("grader.progress.PROGRESS_PATH", tmp_path / "progress.json")


_WEAK_KILLS: list[str] = []


def pytest_runtest_logreport(report):
    """Collect the weak kills tests/test_rungs.py records (from xdist workers too)."""
    if report.when == "call":
        _WEAK_KILLS.extend(value for name, value in report.user_properties
                           if name == "weak_kill")


def pytest_terminal_summary(terminalreporter):
    """List the mutants caught only by a hair or only on a drawn example; it fails nothing."""
    if not _WEAK_KILLS:
        return
    terminalreporter.write_sep("-", f"weak kills: {len(_WEAK_KILLS)} (mutant, task, margin)")
    for line in sorted(_WEAK_KILLS):
        mutant, task, margin = line.split("\t", 2)
        terminalreporter.write_line(f"{mutant}  [{task}]  {margin}")
