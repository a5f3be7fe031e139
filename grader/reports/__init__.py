"""Renderers of the one Result model. Each takes a Result and returns text."""

from collections.abc import Callable

from grader.reports.json_report import render_json
from grader.reports.text import render_text
from grader.results import Result

RENDERERS: dict[str, Callable[[Result, bool], str]] = {
    "text": render_text,
    "json": render_json,
}

__all__ = ["RENDERERS", "render_json", "render_text"]
