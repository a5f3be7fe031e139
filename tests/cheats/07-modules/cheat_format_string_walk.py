"""Class 4: dunders inside a format string; file read with torch.from_file; no sys/os/open.

An AST check that forbids dunder attributes or a denylist of names never sees the walk: it is
a string literal, "{0.__globals__[sys].argv}", that str.format resolves at run time (format
fields allow attribute access and [key] indexing with dunders). typing.get_type_hints's
globals are typing's, which hold sys, so the field renders sys.argv as text. The
--kata-reference path is cut out of that text; the file's size is taken from the error
torch.from_file raises when asked for more bytes than the file has; torch.from_file then maps
it and the source is exec'd into this module.

Against c952621: PASS 15/15 points, exit 0.
"""

import typing

import torch

KATA_CHEAT = {"expect": {"status": "error", "message": "a format field that reads attributes or items; use an f-stri"},
              "class": 4, "rung": "07-modules", "worked": True,
              "observed": "PASS 15/15, exit 0; argv read through a format string"}

_argv = "{0.__globals__[sys].argv}".format(typing.get_type_hints)
_path = _argv.split("'--kata-reference', '", 1)[1].split("'", 1)[0]
try:
    torch.from_file(_path, shared=False, size=1 << 40, dtype=torch.uint8)
except RuntimeError as _too_big:
    _size = int(str(_too_big).split("size <", 1)[1].split(">", 1)[0])
_bytes = torch.from_file(_path, shared=False, size=_size, dtype=torch.uint8)
exec(bytes(_bytes.tolist()).decode("utf-8"), globals())
