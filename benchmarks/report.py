"""Turn a pytest-benchmark JSON file of benchmarks/test_loop.py into docs/benchmarks.md's table.

    python -m benchmarks.report .kata/bench-loop.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def table(data: dict) -> str:
    rows = ["| what | median | bare `import torch` | ratio |", "|---|---|---|---|"]
    for bench in data["benchmarks"]:
        extra = bench.get("extra_info", {})
        if "ratio_to_import_torch" not in extra:
            continue
        rows.append(f"| `{bench['name']}` | {extra['median_s']:.2f} s | "
                    f"{extra['import_torch_s']:.2f} s | {extra['ratio_to_import_torch']:.2f}× |")
    machine = data.get("machine_info", {})
    cpu = machine.get("cpu", {}).get("brand_raw", "?")
    rows.append("")
    rows.append(f"Machine: {cpu}, {machine.get('cpu', {}).get('count', '?')} cores, "
                f"Python {machine.get('python_version', '?')}; {data.get('datetime', '')}")
    return "\n".join(rows)


if __name__ == "__main__":
    print(table(json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))))
