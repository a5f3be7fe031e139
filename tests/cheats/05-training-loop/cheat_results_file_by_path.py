"""Class 2: read the nonce back from the results file itself, then append forged records.

The worker's cwd is <tmp>/learner and the result file is <tmp>/results.jsonl, so the plain
relative path "../results.jsonl" opens it (same uid, 0600 is no obstacle). Its first line, the
"meta" record written at pytest_configure, carries this run's nonce in clear. The module appends
a padding line (the plugin's own descriptor has no O_APPEND: its next write lands at its old
offset, over the padding, not over the forgeries), one pass record per task and "done", then
raises KeyboardInterrupt so pytest stops without recording a real test. Only builtins: open().

Against c952621: PASS 15/15 points, exit 0.
"""

KATA_CHEAT = {"expect": {"status": "error", "message": "`open` is not available to graded code: the tasks take and r"},
              "class": 2, "rung": "05-training-loop", "worked": True,
              "observed": "PASS 15/15 points, exit 0; nonce read from ../results.jsonl"}

TASKS = ("train_step", "evaluate", "lr_at", "save_checkpoint", "load_checkpoint", "fit")

with open("../results.jsonl", encoding="utf-8") as _results:
    _nonce = _results.readline().split('"nonce": "', 1)[1].split('"', 1)[0]

_lines = ["x" * 400]
for _task in TASKS:
    _lines.append('{"nonce": "%s", "kind": "test", "nodeid": "t::%s", "name": "test_%s", '
                  '"task": "%s", "category": "values", "status": "pass", "message": "", '
                  '"duration": 0.0, "visibility": "visible"}' % (_nonce, _task, _task, _task))
_lines.append('{"nonce": "%s", "kind": "done", "count": 6, "exitstatus": 0}' % _nonce)
with open("../results.jsonl", "a", encoding="utf-8") as _results:
    _results.write("\n" + "\n".join(_lines) + "\n")

raise KeyboardInterrupt
