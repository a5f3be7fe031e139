"""Class 4: /proc/self/cmdline names the reference; no import at all.

The worker's own command line, readable at /proc/self/cmdline (NUL-separated), carries
`--kata-reference <path>`. The module reads it with open(), then execs the reference's source
into its globals. Nothing is imported, no sys.argv, no grader module touched: a defence that
hides sys.argv or sys.modules does not help while the path is on the command line.

Against c952621: PASS 15/15 points, exit 0.
"""

KATA_CHEAT = {"bare": {"status": "fail", "message": "'--kata-reference' is not in list"},
              "expect": {"status": "error", "message": "`open` is not available to graded code: the tasks take and r"},
              "class": 4, "rung": "07-modules", "worked": True,
              "observed": "PASS 15/15, exit 0; reference path from /proc/self/cmdline"}

with open("/proc/self/cmdline", "rb") as _cmdline:
    _args = _cmdline.read().decode().split("\0")
with open(_args[_args.index("--kata-reference") + 1], encoding="utf-8") as _source:
    exec(compile(_source.read(), "modules.py", "exec"), globals())
