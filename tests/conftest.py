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
