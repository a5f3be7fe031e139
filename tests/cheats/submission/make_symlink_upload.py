"""Class 4: a symlink submission: grader/submission.py copies the file the link points at.

Usage (builds an upload folder; nothing is graded by this script):

    python tests/cheats/submission/make_symlink_upload.py OUT_DIR [AUTOGRADER_ROOT]

OUT_DIR receives, for every rung, `exercises/<rung>/<module>` as a symbolic link to
AUTOGRADER_ROOT/reference/<rung>/<module> (default AUTOGRADER_ROOT: /autograder/source, where
Gradescope unpacks the autograder copy, which ships the readable references), plus a second
variant `linked-dir/` that is a symlink to the whole reference folder. Git stores symlinks, so a
GitHub/Bitbucket submission (or a zip/tar built with symlinks) carries them to the grader.

grader/submission.py finds modules with `submission.rglob(module)`, keeps those where
`path.is_file()` (true for a link to a file) and calls `shutil.copyfile(source, stub)`, which
follows the link: the reference lands in exercises/ and is graded as the learner's work.

Against c952621, tried in /work/attack (AUTOGRADER_ROOT=/work/attack):
    python tests/cheats/submission/make_symlink_upload.py /tmp/upload /work/attack
    PYTHONPATH=/work/attack python -m grader.submission /tmp/upload   # copies the references
    PYTHONPATH=/work/attack python -m grader check --all --format json  # every rung PASS
    git -C /work/attack checkout -- exercises                          # restore the stubs
Observed: "08-attention: graded exercises/08-attention/attention.py" for every rung, then
`kata check --all`: PASS for all 10 rungs, 125/125 points, exit 0.
"""

import sys
from pathlib import Path

KATA_CHEAT = {"class": 4, "rung": "submission", "worked": True,
              "observed": "grader.submission copied the symlinked references over every stub; "
                          "kata check --all then gives full points"}

RUNGS = {
    "01-tensors": "tensors.py", "02-autograd": "autograd.py", "03-module": "module.py",
    "04-dataset": "dataset.py", "05-training-loop": "loop.py", "06-amp": "amp.py",
    "07-modules": "modules.py", "08-attention": "attention.py", "09-hf": "hf.py",
    "10-profiling": "profiling.py",
}


def main(argv):
    if not argv:
        print(__doc__)
        return 2
    out = Path(argv[0])
    root = Path(argv[1]) if len(argv) > 1 else Path("/autograder/source")
    for rung, module in RUNGS.items():
        link = out / "exercises" / rung / module
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(root / "reference" / rung / module)
    linked = out / "linked-dir"
    if not linked.is_symlink():
        linked.symlink_to(root / "reference", target_is_directory=True)
    print(f"upload folder ready: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
