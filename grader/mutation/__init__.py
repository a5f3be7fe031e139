"""The mutation score (`make mutation`): mutants of each rung's reference, graded by the runner.

A dev tool; it needs the dev extra (cosmic-ray). See docs/writing-a-rung.md.
"""
