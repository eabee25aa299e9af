"""Drives the installed groundlab kernel with the real jupyter_client (the project's .venv) and
writes what it saw as JSON. Spawned by test/kernel/*.test.ts, which make the assertions.

usage: python jupyter_client_driver.py SCENARIO OUT_JSON WORKDIR
  SCENARIO: protocol | interrupt
"""
import json
import os
import sys
import time

import jupyter_client
from jupyter_client.manager import start_new_kernel

scenario, out_path, workdir = sys.argv[1], sys.argv[2], sys.argv[3]
result = {"scenario": scenario, "timings": {}}
t0 = time.time()


def stamp(name):
    result["timings"][name] = round(time.time() - t0, 2)


def collect(kc, msg_id, timeout=60, on_msg=None):
    """All IOPub messages of one request until its idle status, with the shell reply."""
    msgs = []
    deadline = time.time() + timeout
    while True:
        left = deadline - time.time()
        if left <= 0:
            raise TimeoutError("no idle status for %s" % msg_id)
        m = kc.get_iopub_msg(timeout=left)
        if m["parent_header"].get("msg_id") != msg_id:
            continue
        msgs.append({"type": m["msg_type"], "content": m["content"]})
        if on_msg:
            on_msg(m)
        if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
            break
    reply = kc.get_shell_msg(timeout=max(1, deadline - time.time()))
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=max(1, deadline - time.time()))
    return {"reply": reply["content"], "reply_type": reply["msg_type"], "iopub": [x for x in msgs if x["type"] != "status"]}


def execute(kc, code, timeout=60, on_msg=None):
    return collect(kc, kc.execute(code), timeout, on_msg)


def shell_reply(kc, msg_id, timeout=30):
    r = kc.get_shell_msg(timeout=timeout)
    while r["parent_header"].get("msg_id") != msg_id:
        r = kc.get_shell_msg(timeout=timeout)
    return {"type": r["msg_type"], "content": r["content"]}


def control_request(kc, msg_type, content, timeout=30):
    msg = kc.session.msg(msg_type, content)
    kc.control_channel.send(msg)
    deadline = time.time() + timeout
    while True:
        r = kc.control_channel.get_msg(timeout=max(0.1, deadline - time.time()))
        if r["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
            return {"type": r["msg_type"], "content": r["content"]}


def wait_for(kc, msg_id, pred, timeout=60):
    """Read IOPub until pred(msg) for a message of msg_id; return the messages seen so far."""
    seen = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = kc.get_iopub_msg(timeout=max(0.1, deadline - time.time()))
        if m["parent_header"].get("msg_id") != msg_id:
            continue
        seen.append({"type": m["msg_type"], "content": m["content"]})
        if pred(m):
            return seen
    raise TimeoutError("condition not met for %s" % msg_id)


def finish(kc, msg_id, seen, timeout=60):
    """Read the rest of a request's IOPub (to idle) and its reply."""
    rest = collect(kc, msg_id, timeout)
    rest["iopub"] = [x for x in seen if x["type"] != "status"] + rest["iopub"]
    return rest


km, kc = start_new_kernel(kernel_name="groundlab", cwd=workdir, startup_timeout=90)
stamp("started")
try:
    result["spec_argv"] = km.kernel_spec.argv
    if scenario == "protocol":
        result["kernel_info"] = kc.kernel_info(reply=True, timeout=30)["content"]
        result["exec_stdout"] = execute(kc, 'const greeting: string = "hello";\nconsole.log(greeting + " world");\n6 * 7')
        result["kernel_info_later"] = kc.kernel_info(reply=True, timeout=30)["content"]
        result["exec_display"] = execute(
            kc,
            'import { display, GroundlabError, lineChart } from "groundlab";\n'
            'import * as aq from "arquero";\n'
            'const t = aq.table({ step: [0, 10, 20], G: [0.1, 0.5, 2.5] });\n'
            'await display(t);\n'
            'await display(lineChart(t, { x: "step", y: "G", title: "G over steps" }));\n'
            'await display({ "application/vnd.groundlab.timeline+json": { steps: [1] }, "text/plain": "timeline" });\n'
            'lineChart(t, { x: "step", y: "G", title: "as a result" })',
        )
        result["deps"] = execute(
            kc,
            'import * as vl from "vega-lite";\nimport * as vega from "vega";\nimport * as tfc from "@tensorflow/tfjs-core";\n'
            'import { tf } from "groundlab";\n'
            '[typeof vl.compile, typeof vega.View, tfc.getBackend(), tf.sum(tf.tensor([1, 2, 3])).dataSync()[0]].join(" ")',
        )
        result["exec_error"] = execute(
            kc,
            'function openMissing(dir: string) {\n'
            '  throw new GroundlabError("NOT_FOUND", `no run at ${dir}`, { hint: "train one first" });\n'
            '}\n'
            'const before = 1;\n'
            'openMissing("runs/nowhere");',
        )
        result["exec_type_error"] = execute(kc, 'const n: number = "not a number";')
        # A cell queued behind a failing one is aborted, not run.
        first = kc.execute('await new Promise((r) => setTimeout(r, 300));\nthrow new Error("first fails");')
        second = kc.execute('console.log("second ran");')
        result["queued_first"] = collect(kc, first)
        result["queued_second"] = collect(kc, second)
        result["exec_plain_error"] = execute(kc, 'const xs: number[] = [];\nconst first = (xs as any)[0].value;')
        result["after_error"] = execute(kc, 'greeting.length')
        result["lib_error"] = execute(kc, 'import { openRun } from "groundlab";\nconst missing = "/nonexistent/groundlab-run";\nawait openRun(missing);')
        result["import_kept"] = execute(kc, 'typeof openRun')
        mid = kc.complete("greeting.toUpp", len("greeting.toUpp"))
        result["complete"] = shell_reply(kc, mid)
        mid = kc.complete('import { initEng } from "groundlab";', len('import { initEng'))
        result["complete_lib"] = shell_reply(kc, mid)
        mid = kc.inspect("greeting", 3)
        result["inspect"] = shell_reply(kc, mid)
        mid = kc.inspect("lineChart", 4)
        result["inspect_lib"] = shell_reply(kc, mid)
        mid = kc.inspect("await openRun(", len("await openRun("))
        result["inspect_call"] = shell_reply(kc, mid)
        mid = kc.inspect("await display(lineChart(greeting, ", len("await display(lineChart(greeting, "))
        result["inspect_call_arg"] = shell_reply(kc, mid)
        mid = kc.inspect("const x = 1 + ", len("const x = 1 + "))
        result["inspect_nothing"] = shell_reply(kc, mid)
        mid = kc.complete("gree", 4)
        result["complete_var"] = shell_reply(kc, mid)
        mid = kc.is_complete("const = 1;")
        result["is_complete_invalid"] = shell_reply(kc, mid)
        mid = kc.is_complete("function f() {")
        result["is_complete_incomplete"] = shell_reply(kc, mid)
        mid = kc.is_complete("const a = 1;")
        result["is_complete_complete"] = shell_reply(kc, mid)
        mid = kc.comm_info()
        result["comm_info"] = shell_reply(kc, mid)
        result["comm_info_control"] = control_request(kc, "comm_info_request", {})
        stamp("before_restart")
        pid_before = km.provisioner.process.pid
        km.restart_kernel(now=False)
        kc.wait_for_ready(timeout=90)
        stamp("restarted")
        result["restart"] = {"pid_before": pid_before, "pid_after": km.provisioner.process.pid}
        result["after_restart"] = execute(kc, "typeof greeting")
        result["after_restart_fresh"] = execute(kc, 'const fresh = "yes";\nfresh')
        result["shutdown_reply"] = control_request(kc, "shutdown_request", {"restart": False})
        deadline = time.time() + 10
        while km.is_alive() and time.time() < deadline:
            time.sleep(0.1)
        result["alive_after_shutdown"] = km.is_alive()
        stamp("shut_down")

    elif scenario == "interrupt":
        run_dir = os.path.join(workdir, "run-interrupt")
        result["run_dir"] = run_dir
        result["setup"] = execute(
            kc,
            'import { train, interruptSignal, progressDisplay, openRun } from "groundlab";\n'
            'import * as fs from "node:fs";\n'
            'const keep = { answer: 42 };\n'
            'keep.answer',
        )
        # 1. An async loop that watches interruptSignal(), stopped by an interrupt_request message.
        mid = kc.execute(
            'const loop = { laps: 0 };\n'
            'const sig = interruptSignal();\n'
            'while (!sig.aborted) { loop.laps++; if (loop.laps === 3) console.log("looping"); await new Promise((r) => setTimeout(r, 20)); }\n'
            'console.log("stopped cleanly after", loop.laps > 3 ? "several" : "few", "laps");'
        )
        seen = wait_for(kc, mid, lambda m: m["msg_type"] == "stream" and "looping" in m["content"].get("text", ""))
        result["interrupt_reply"] = control_request(kc, "interrupt_request", {})
        result["async_loop"] = finish(kc, mid, seen)
        result["after_async"] = execute(kc, "loop.laps >= 3 && keep.answer === 42")
        # 2. A synchronous loop stopped by SIGINT (what JupyterLab's stop button does).
        mid = kc.execute('console.log("spinning");\nconst spin = { n: 0 };\nwhile (true) { spin.n++; }')
        seen = wait_for(kc, mid, lambda m: m["msg_type"] == "stream" and "spinning" in m["content"].get("text", ""))
        time.sleep(0.3)
        km.interrupt_kernel()
        result["sync_loop"] = finish(kc, mid, seen)
        result["after_sync"] = execute(kc, "keep.answer + 1")
        # 3. Training interrupted by SIGINT: stops at the next step, saves a checkpoint.
        mid = kc.execute(
            'const result = await train({ out: %s, arch: "transformer", preset: "tiny", steps: 100000, seed: 1,\n'
            '  signal: interruptSignal(), onProgress: progressDisplay({ intervalSec: 0.1 }) });' % json.dumps(run_dir)
        )
        def trained_a_bit(m):
            if m["msg_type"] not in ("display_data", "update_display_data"):
                return False
            text = m["content"]["data"].get("text/plain", "")
            parts = text.split()
            try:
                return int(parts[1].split("/")[0]) >= 8
            except (IndexError, ValueError):
                return False
        seen = wait_for(kc, mid, trained_a_bit, timeout=120)
        stamp("training_running")
        km.interrupt_kernel()
        result["train"] = finish(kc, mid, seen, timeout=90)
        stamp("training_interrupted")
        result["after_train"] = execute(
            kc,
            'const run = await openRun(%s);\n'
            'const steps = run.checkpoints.map((c) => c.step);\n'
            'console.log(JSON.stringify({ steps, answer: keep.answer, laps: loop.laps >= 3, status: result.status }));' % json.dumps(run_dir),
        )
        ck = os.path.join(run_dir, "checkpoints")
        result["checkpoints_on_disk"] = sorted(os.listdir(ck)) if os.path.isdir(ck) else []
        # 3b. evalRun stopped by the stop button: the same "Interrupted" as train, its bar says so.
        mid = kc.execute(
            'import { evalRun } from "groundlab";\n'
            'const scored = await evalRun(run, { onProgress: progressDisplay({ intervalSec: 0.05 }), signal: interruptSignal() });'
        )
        seen = wait_for(kc, mid, lambda m: m["msg_type"] in ("display_data", "update_display_data") and "step " in m["content"]["data"].get("text/plain", ""), timeout=120)
        km.interrupt_kernel()
        result["eval_stopped"] = finish(kc, mid, seen, timeout=90)
        result["after_eval"] = execute(kc, "keep.answer")
        # 4. Shutting the kernel down during training still saves a checkpoint first.
        run_dir2 = os.path.join(workdir, "run-shutdown")
        result["run_dir2"] = run_dir2
        mid = kc.execute(
            'await train({ out: %s, arch: "transformer", preset: "tiny", steps: 100000, seed: 2,\n'
            '  signal: interruptSignal(), onProgress: progressDisplay({ intervalSec: 0.1 }) });' % json.dumps(run_dir2)
        )
        seen = wait_for(kc, mid, trained_a_bit, timeout=120)
        result["shutdown_progress"] = [x["content"]["data"]["text/plain"] for x in seen if x["type"] in ("display_data", "update_display_data")]
        result["shutdown_during_train"] = control_request(kc, "shutdown_request", {"restart": False})
        deadline = time.time() + 15
        while km.is_alive() and time.time() < deadline:
            time.sleep(0.1)
        result["alive_after_shutdown"] = km.is_alive()
        ck2 = os.path.join(run_dir2, "checkpoints")
        result["checkpoints_after_shutdown"] = sorted(os.listdir(ck2)) if os.path.isdir(ck2) else []
finally:
    try:
        if km.is_alive():
            km.shutdown_kernel(now=False)
    except Exception as e:  # report, do not hide the result
        result["shutdown_error"] = repr(e)
    kc.stop_channels()
    stamp("end")
    with open(out_path, "w") as f:
        json.dump(result, f, indent=1, default=str)
