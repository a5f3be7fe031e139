"""Renderers of the one Result model. Each takes a Result and returns text."""

from collections.abc import Callable

from grader.reports.github import render_github
from grader.reports.gradescope import render_gradescope
from grader.reports.json_report import render_json
from grader.reports.junit import render_junit
from grader.reports.prairielearn import render_prairielearn
from grader.reports.text import render_text
from grader.results import Result

RENDERERS: dict[str, Callable[[Result, bool], str]] = {
    "text": render_text,
    "json": render_json,
    "junit": render_junit,
    "gradescope": render_gradescope,
    "github": render_github,
    "prairielearn": render_prairielearn,
}

__all__ = ["RENDERERS", "render_github", "render_gradescope", "render_json", "render_junit",
           "render_prairielearn", "render_text"]
