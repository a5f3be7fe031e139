"""`--format json`: the Result model itself, as exactly one JSON object."""

import json

from grader.results import Result


def render_json(result: Result, verbose: bool = False) -> str:
    return json.dumps(result.to_dict(), indent=2, ensure_ascii=False)
