"""Class 1: pytest.skip(allow_module_level=True) at import time.

The candidate fixture imports this module inside a session-scoped fixture; pytest's Skipped is a
BaseException, so it passes the fixture's `except Exception` and every test that requests
`candidate` is reported "skipped". A task whose checks are all skipped keeps its points
(results.TaskScore: "pass" or "skipped" earn the share), so a module with no code at all earns
everything.

Against c952621: PASS 20/20 points, exit 0 (33 tests skipped, 0 run).
"""

import pytest

KATA_CHEAT = {"expect": {"status": "error", "message": "import pytest: 08-attention does not use `pytest`; its modul"},
              "class": 1, "rung": "08-attention", "worked": True,
              "observed": "PASS 20/20 points, exit 0; all 33 tests skipped"}

pytest.skip("the grader is on holiday", allow_module_level=True)
