"""Class 6: the results file replaced by a directory: IsADirectoryError in the parent.

At import the module unlinks ../results.jsonl and makes a directory of that name. The parent's
result_file.read_text() after the worker ends raises IsADirectoryError, which nothing catches:
traceback, exit 1, no report. (A symlink to /dev/zero in its place makes the parent read
forever and grow until it dies of MemoryError: tested by hand only with the parent under
`ulimit -S -v 3000000`; not shipped as a file because an unlimited parent would eat the
machine's memory.) Likewise ../output.txt: the parent reads it with read_bytes() afterwards.

Against c952621: parent traceback "IsADirectoryError: [Errno 21] Is a directory:
'/tmp/kata-.../results.jsonl'", exit 1, no report.
"""

import os

KATA_CHEAT = {"bare": {"status": "fail", "message": "No such file"},
              "expect": {"status": "error", "message": "import os: 08-attention does not use `os`; its modules may i"},
              "class": 6, "rung": "08-attention", "worked": True,
              "observed": "parent IsADirectoryError reading results.jsonl, exit 1, no report"}

os.unlink("../results.jsonl")
os.mkdir("../results.jsonl")
