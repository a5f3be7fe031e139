"""Class 2: a forged "meta" record overrides the JSON report's top-level status and points.

check_rungs copies every field of the worker's first meta record (except nonce and kind) into
Result.meta, and Result.to_dict() spreads meta *after* status, points and max_points:
`{"status": ..., "points": ..., **self.meta, "rungs": ...}`. So a meta record with "status",
"points" and "max_points" fields replaces the totals that `kata check --format json` prints
(the instructors' view, and what a CI script that reads .points sees). At interpreter shutdown
(after pytest is done writing) a __del__ finalizer rewrites the results file's first line, the
plugin's own meta record, keeping its nonce and adding those fields. The per-rung entry still
says TODO 0/15: only the totals lie. No import.

Against c952621: `--format json` prints top-level "status": "pass", "points": 15.0,
"max_points": 15.0 while rungs[0] is "todo" with 0 points; exit 1.
"""

KATA_CHEAT = {"expect": {"status": "error", "message": "defining __del__ lets an object decide how the grader's chec"},
              "class": 2, "rung": "07-modules", "worked": True,
              "observed": "JSON report top-level status pass, points 15/15 while the rung is 0/15"}


class _Afterwards:
    def __del__(self, open=open, path="../results.jsonl"):
        with open(path, encoding="utf-8") as results:
            lines = results.read().split("\n")
        if lines and lines[0].endswith("}"):
            lines[0] = lines[0][:-1] + ', "status": "pass", "points": 15.0, "max_points": 15.0}'
        with open(path, "w", encoding="utf-8") as results:
            results.write("\n".join(lines))


_keep_until_exit = _Afterwards()


class _Todo:
    def __init__(self, *args, **kwargs):
        raise NotImplementedError("07-modules")


Linear = Embedding = LayerNorm = Dropout = GELU = _Todo


def param_count(module_name, **kwargs):
    raise NotImplementedError("07-modules: param_count")
