"""Class 8 (output): the hidden spec and every reference solution, read with the pathlib this rung
is allowed, come back to the learner as the message of a visible check.

Technique: 05-training-loop may import pathlib (catalog.toml [rung.source]) and `Path.read_text`
is no denied name. The learner's own `__file__` (not a denied name) is
`<run>/learner/loop.py`; `<run>/path/grader` is the runner's link to the grader package, so
`<run>/path/grader/specs/` holds every rung's spec, hidden checks included (an exported
`autograder/` keeps them), and `<run>/path/grader/../reference/` every readable reference. A task
raises ValueError with that text; the plugin records it as the check's message (cut at 4000
characters), the runner cleans control characters only, and Gradescope's *visible* task entry
shows it (hidden-check withholding applies to the hidden check's own message, not to what a
visible check says). One submission per chunk leaks all the hidden checks and all the solutions
of every rung before the due date.

Observed at ffaefd4, all layers on: FAIL 0/15; train_step's message is the source of the hidden
test_sdpa_is_stable_for_large_scores (08-attention), evaluate's the reference of 08-attention's
scaled_dot_product_attention, lr_at's the start of reference/05-training-loop/loop.py's code.
(worked: it gets no points, but leaks what a learner must never see before the due date.)
"""

from pathlib import Path

KATA_CHEAT = {"expect": {"status": "error", "message": "`.read_text` leads out of the task to the interpreter, the p"},
              "class": 8, "rung": "05-training-loop", "worked": True,
              "observed": "FAIL 0/15; visible messages carry the hidden 08 check and references"}

_RUN = Path(__file__).parent.parent
_GRADER = _RUN / "path" / "grader"


def _hidden_checks() -> str:
    source = (_GRADER / "specs" / "test_08_attention.py").read_text()
    start = source.index("@pytest.mark.hidden")
    return source[start:source.index("\n\n\n", start)]


def _reference(rung: str, module: str, marker: str) -> str:
    source = (_GRADER / ".." / "reference" / rung / module).read_text()
    start = source.index(marker)
    return source[start:start + 3500]


def train_step(model, batch, optimizer, loss_fn, max_grad_norm=None):
    raise ValueError("\n" + _hidden_checks())


def evaluate(model, loader, loss_fn):
    raise ValueError("\n" + _reference("08-attention", "attention.py", "def _attention_weights"))


def lr_at(step, max_lr, warmup_steps, total_steps, min_lr):
    raise ValueError("\n" + _reference("05-training-loop", "loop.py", "def train_step"))


def save_checkpoint(path, model, optimizer, step):
    raise NotImplementedError


def load_checkpoint(path, model, optimizer):
    raise NotImplementedError


def fit(*args, **kwargs):
    raise NotImplementedError
