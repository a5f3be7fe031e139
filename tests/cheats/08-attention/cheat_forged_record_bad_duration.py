"""Class 6: one forged record with a non-numeric field crashes the parent.

The runner validates nothing in a record beyond its nonce: _test_result() does
float(record.get("duration", 0.0)). The module finds the RunState through the candidate
fixture's frame (no import), writes one "test" record whose duration is "soon", and lets the
run continue. When the parent builds its results, ValueError escapes check_rung: traceback,
exit 1, no report. (A "gray" record with ratio "fast" fails the same way in _remeasure.)

Against c952621: parent traceback "ValueError: could not convert string to float: 'soon'",
exit 1, no report.
"""

KATA_CHEAT = {"bare": {"status": "error", "message": "the grader could not trust this run: the grader received res"},
              "expect": {"status": "error", "message": "`.tb_frame` leads out of the task to the interpreter, the pr"},
              "class": 6, "rung": "08-attention", "worked": True,
              "observed": "parent ValueError in _test_result (duration 'soon'), exit 1, no report"}

try:
    raise KeyError
except KeyError as _caught:
    _frame = _caught.__traceback__.tb_frame
while _frame is not None:
    if "pytestconfig" in _frame.f_locals and "_STATE" in _frame.f_globals:
        _state = _frame.f_locals["pytestconfig"].stash[_frame.f_globals["_STATE"]]
        _state.write("test", nodeid="x::y", name="test_y", task="causal_mask", category="values",
                     status="pass", message="", duration="soon", visibility="visible")
        break
    _frame = _frame.f_back
