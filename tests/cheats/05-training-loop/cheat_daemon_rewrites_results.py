"""Class 7 (and 2): a double-forked, setsid() daemon outlives pytest and rewrites its records.

The runner kills the worker's process group when the worker ends; a grandchild that called
setsid() is in another group and survives. It polls ../results.jsonl until the plugin's "done"
record appears (pytest_sessionfinish), then, while pytest is still tearing down and the parent
is still waiting for the worker to exit, rewrites every "fail"/"todo"/"error" status to "pass".
The records keep their real nonce. No in-process defence sees it: by then the session is over.
The daemon exits right after (or after 50 s at most); the module is otherwise the stubs.

Against c952621: PASS 15/15 points, exit 0 for NotImplementedError stubs.
"""

import os
import time

KATA_CHEAT = {"bare": {"status": "todo", "message": ""},
              "expect": {"status": "error", "message": "import time: 05-training-loop does not use `time`; its modul"},
              "class": 7, "rung": "05-training-loop", "worked": True,
              "observed": "PASS 15/15, exit 0; a setsid daemon rewrote results after 'done'"}

PATH = os.path.abspath("../results.jsonl")

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        deadline = time.time() + 50
        while time.time() < deadline:
            try:
                with open(PATH, encoding="utf-8") as results:
                    text = results.read()
            except OSError:
                break
            if '"kind": "done"' in text:
                for status in ("fail", "todo", "error"):
                    text = text.replace('"status": "%s"' % status, '"status": "pass"')
                with open(PATH, "r+", encoding="utf-8") as results:
                    results.write(text)
                break
            time.sleep(0.002)
    os._exit(0)
os.wait()


def _todo(*args, **kwargs):
    raise NotImplementedError("05-training-loop")


train_step = evaluate = lr_at = save_checkpoint = load_checkpoint = fit = _todo
