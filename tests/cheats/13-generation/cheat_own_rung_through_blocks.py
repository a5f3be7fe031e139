"""Class 4: 13-generation's own reference, asked for through grader.blocks.

13 gives the blocks generate_text_simple and generate to the rungs after it, and outside a
check grader.blocks serves the reference for a rung that does not pass yet. This module asks
grader.blocks for 13's own two functions and re-exports them, and builds the cached model by
rerunning an uncached one, counting on the blocks loader handing it the reference.

Written for rung 13 (not run against c952621): the source rules admit only the blocks of the
rungs before 13, so the import is refused before anything runs.
"""

from grader.blocks import generate, generate_text_simple

KATA_CHEAT = {"expect": {"status": "error", "message": "from grader.blocks import generate: `grader` reaches past the grader"},
              "class": 4, "rung": "13-generation", "worked": False,
              "observed": "written for rung 13; the reference's functions under the learner's names"}

__all__ = ["generate", "generate_text_simple"]
