"""Fixtures for the project's own tests."""

import pytest


@pytest.fixture(autouse=True)
def _private_progress(tmp_path, monkeypatch):
    """Checks of the exercises record progress; keep the tests' out of the real .kata/."""
    monkeypatch.setattr("grader.progress.PROGRESS_PATH", tmp_path / "progress.json")
