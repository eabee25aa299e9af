"""Jupyter's own kernel conformance suite (jupyter_kernel_test) against the installed groundlab
kernel. Every feature the kernel supports has its sample here, so none of those tests skips; the
pager (payloads with source "page") is the one feature the kernel does not offer.

usage: python conformance.py   (run by test/kernel/conformance.test.ts, which reads the verdict)
"""
import sys
import unittest

import jupyter_kernel_test as jkt
from jupyter_client.manager import start_new_kernel


class GroundlabKernelTests(jkt.KernelTests):
    kernel_name = "groundlab"
    language_name = "typescript"
    file_extension = ".ts"

    @classmethod
    def setUpClass(cls):
        cls.km, cls.kc = start_new_kernel(kernel_name=cls.kernel_name, startup_timeout=90)
        # The compiler and library load after the first kernel_info (seconds on a loaded machine):
        # wait for them once, so the suite's 15 s per request measures the kernel, not its start.
        cls.kc.execute_interactive("0", timeout=120, store_history=False, output_hook=lambda msg: None)

    code_hello_world = 'console.log("hello, world")'
    code_stderr = 'console.error("to stderr")'
    completion_samples = [{"text": "Math.fl", "matches": {"floor"}}, {"text": "JSON.str", "matches": {"stringify"}}]
    complete_code_samples = ["1", "const x = 1;", 'console.log("a")', "function f() {\n  return 1;\n}"]
    incomplete_code_samples = ["function f() {", "const xs = [1,", "if (true) {"]
    invalid_code_samples = ["const = 1;", "1 +* 2", "let 9x = 1;"]
    code_generate_error = 'throw new Error("boom")'
    code_execute_result = [
        {"code": "6 * 7", "result": "42"},
        {"code": '"ab".repeat(2)', "result": "abab"},
        {"code": "[1, 2].map((x) => x * 2)", "result": "[ 2, 4 ]"},
    ]
    code_display_data = [
        {"code": 'import { display } from "groundlab";\nawait display({ "text/html": "<b>shown</b>", "text/plain": "shown" });', "mime": "text/html"},
        {
            "code": 'import { display, lineChart } from "groundlab";\nawait display(lineChart([{ x: 1, y: 2 }, { x: 2, y: 3 }], { x: "x", y: "y" }), { images: false });',
            "mime": "application/vnd.vegalite.v5+json",
        },
    ]
    code_clear_output = 'import { clearOutput } from "groundlab";\nconsole.log("gone soon");\nclearOutput();'
    code_history_pattern = "6?*"
    supported_history_operations = ("tail", "range", "search")
    code_inspect_sample = "Math.floor"


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    for test, reason in result.skipped:
        print(f"SKIPPED {test.id()}: {reason}")
    sys.exit(0 if result.wasSuccessful() else 1)
