"""Class 2: a half-written line swallows the next record (no nonce needed).

The runner parses results.jsonl line by line and silently skips lines that are not JSON. The
worker's own /proc/self/environ still shows KATA_RESULT_FD (os.environ.pop does not clear the
kernel's copy), so the module knows the result descriptor. In every test that is not a "shape"
test it writes an unterminated `{"swallowed": "` to that descriptor (same open file, same
offset) while its function runs; the plugin's record for the test is then appended to that
line and the whole line fails to parse. Failures vanish; the trivial shape-only code passes the
shape tests, which are recorded normally, so every task has only passing records. Builtins only.

Against c952621: PASS 20/20 points, exit 0 (6 shape tests pass, 2 skipped, the rest unrecorded).
"""

import torch
from torch import nn

KATA_CHEAT = {"expect": {"status": "error", "message": "`open` is not available to graded code: the tasks take and r"},
              "class": 2, "rung": "08-attention", "worked": True,
              "observed": "PASS 20/20 points, exit 0; failing records swallowed by half-lines"}

with open("/proc/self/environ", "rb") as _env:
    _fd = int([v for v in _env.read().split(b"\0")
               if v.startswith(b"KATA_RESULT_FD=")][0].split(b"=")[1])
_channel = open(_fd, "w", closefd=False)


def _category():
    try:
        raise KeyError
    except KeyError as caught:
        frame = caught.__traceback__.tb_frame
    while frame is not None:
        item = frame.f_locals.get("item")
        if item is not None and hasattr(item, "get_closest_marker"):
            marker = item.get_closest_marker("task")
            return marker.kwargs.get("category") if marker else None
        frame = frame.f_back
    return None


def _swallow_unless_shape():
    if _category() != "shape":
        _channel.write('{"swallowed": "')
        _channel.flush()


def scaled_dot_product_attention(q, k, v, mask=None):
    _swallow_unless_shape()
    return torch.zeros(*q.shape[:-1], v.shape[-1], dtype=q.dtype, device=q.device)


def causal_mask(seq_len, device=None):
    _swallow_unless_shape()
    return torch.ones(seq_len, seq_len, dtype=torch.bool, device=device)


class MultiHeadAttention(nn.Module):
    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        _swallow_unless_shape()
        self.d_out = d_out
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.out_proj = nn.Linear(d_out, d_out)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        _swallow_unless_shape()
        return torch.zeros(*x.shape[:-1], self.d_out, dtype=x.dtype, device=x.device)
