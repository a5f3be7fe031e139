"""Learner code is untrusted: whatever it does, the grader gives a clear verdict and carries on."""

from __future__ import annotations

import textwrap

import pytest

from grader.catalog import resolve
from grader.runner import check_rung

from .helpers import describe

ATTENTION = resolve("08-attention")
TIMEOUT = 20.0


def grade_source(tmp_path, source: str, timeout: float = TIMEOUT):
    module = tmp_path / "attention.py"
    module.write_text(textwrap.dedent(source), encoding="utf-8")
    result, _ = check_rung(ATTENTION, impl=str(module), timeout=timeout)
    return result


def test_an_endless_loop_times_out_with_the_test_it_was_in(tmp_path):
    result = grade_source(tmp_path, """
        def causal_mask(seq_len, device=None):
            while True:
                pass
    """, timeout=12)
    assert result.status == "error", describe(result)
    assert result.message.startswith("timed out after 12 s during test_"), result.message
    assert result.duration < 12 + 10  # the run was stopped, not waited out


def test_exiting_at_import_is_no_result_not_a_pass(tmp_path):
    result = grade_source(tmp_path, """
        import os
        os._exit(0)
    """)
    assert result.status == "error"
    assert "the grader got no result: your code ended the process (exit code 0)" in result.message


def test_sys_exit_inside_a_task_fails_that_task(tmp_path):
    result = grade_source(tmp_path, """
        import sys
        def causal_mask(seq_len, device=None):
            sys.exit(0)
    """)
    failing = [t for t in result.tests if t.task == "causal_mask"]
    assert failing and all(t.status == "fail" for t in failing), describe(result)
    assert "your code called sys.exit()" in failing[0].message
    assert "raised at attention.py:4: sys.exit(0)" in failing[0].message


def test_os_exit_inside_a_task_is_no_result_and_names_the_test(tmp_path):
    result = grade_source(tmp_path, """
        import os
        def causal_mask(seq_len, device=None):
            os._exit(0)
    """)
    assert result.status == "error"
    assert "ended the process" in result.message and "during test_" in result.message


def test_a_segfault_is_reported_as_a_crash(tmp_path):
    result = grade_source(tmp_path, """
        import ctypes
        def causal_mask(seq_len, device=None):
            return ctypes.string_at(0)
    """)
    assert result.status == "error"
    assert result.message.startswith("crashed (SIGSEGV)"), result.message


def test_a_syntax_error_names_the_file_and_line(tmp_path):
    result = grade_source(tmp_path, """
        def causal_mask(seq_len, device=None)
            return None
    """)
    assert result.status == "error"
    assert result.message.startswith("SyntaxError in attention.py line 2"), result.message


def test_forged_records_without_the_nonce_are_ignored(tmp_path):
    result = grade_source(tmp_path, """
        import json, os
        fake = {"nonce": "guess", "kind": "test", "name": "test_x", "task": "causal_mask",
                "category": "values", "status": "pass", "message": ""}
        for fd in range(3, 64):
            for kind in ("test", "done"):
                try:
                    os.write(fd, (json.dumps(dict(fake, kind=kind)) + "\\n").encode())
                except OSError:
                    pass
        os._exit(0)
    """)
    assert result.status == "error", describe(result)
    assert result.tests == []


def test_the_nonce_and_result_channel_are_not_in_the_environment(tmp_path):
    result = grade_source(tmp_path, """
        import os
        def causal_mask(seq_len, device=None):
            leaked = sorted(k for k in os.environ if k.startswith("KATA_"))
            raise RuntimeError(f"visible: {leaked}")
    """)
    messages = [t.message for t in result.tests if t.task == "causal_mask"]
    assert messages and all("visible: []" in m for m in messages), describe(result)


def test_an_exception_names_the_learners_line(tmp_path):
    result = grade_source(tmp_path, """
        import torch
        def causal_mask(seq_len, device=None):
            return torch.ones(seq_len, seq_len + 1).tril() @ torch.ones(seq_len, 1)
    """)
    failing = [t for t in result.tests if t.task == "causal_mask" and t.status == "fail"]
    assert failing, describe(result)
    assert "RuntimeError" in failing[0].message
    assert "raised at attention.py:4: return torch.ones(seq_len" in failing[0].message


@pytest.mark.parametrize("size_mb", [200])
def test_flooding_output_fails_the_task_and_the_grader_carries_on(tmp_path, size_mb):
    result = grade_source(tmp_path, f"""
        def causal_mask(seq_len, device=None):
            print("x" * ({size_mb} * 1024 * 1024))
    """)
    assert result.tests, describe(result)
    failing = [t for t in result.tests if t.task == "causal_mask"]
    assert failing and all(t.status == "fail" for t in failing), describe(result)
