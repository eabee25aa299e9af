"""Starts JupyterLab 4 (or Notebook 7) from the project's .venv, checks that it lists the groundlab
kernelspec, starts the kernel through the server's REST API and runs a cell over the kernel
websocket, as the browser frontends do. Writes what it saw as JSON.

usage: python jupyter_server_driver.py APP OUT_JSON WORKDIR     (APP: lab | notebook)
"""
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid
import urllib.request

from tornado.websocket import websocket_connect

app, out_path, workdir = sys.argv[1], sys.argv[2], sys.argv[3]
result = {"app": app}
token = uuid.uuid4().hex
s = socket.socket()
s.bind(("127.0.0.1", 0))
port = s.getsockname()[1]
s.close()
base = "http://127.0.0.1:%d" % port
venv_bin = os.path.dirname(sys.executable)
proc = subprocess.Popen(
    [os.path.join(venv_bin, "jupyter"), app, "--no-browser", "--ip=127.0.0.1", "--port=%d" % port,
     "--ServerApp.token=" + token, "--ServerApp.root_dir=" + workdir, "--ServerApp.open_browser=False", "--allow-root"],
    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=workdir,
)


def get(path, method="GET", body=None):
    req = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": "token " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        raw = r.read()
        return r.status, raw


async def run_cell(kernel_id, code):
    ws = await websocket_connect("ws://127.0.0.1:%d/api/kernels/%s/channels?token=%s" % (port, kernel_id, token))
    msg_id = uuid.uuid4().hex
    msg = {"header": {"msg_id": msg_id, "username": "test", "session": uuid.uuid4().hex, "msg_type": "execute_request",
                      "version": "5.3", "date": ""}, "parent_header": {}, "metadata": {},
           "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {}, "allow_stdin": False,
                       "stop_on_error": True}, "channel": "shell", "buffers": []}
    await ws.write_message(json.dumps(msg))
    seen, reply, idle = [], None, False
    deadline = time.time() + 90
    while time.time() < deadline and not (reply and idle):
        raw = await asyncio.wait_for(ws.read_message(), timeout=max(1, deadline - time.time()))
        m = json.loads(raw)
        if m.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        if m["msg_type"] == "execute_reply":
            reply = m["content"]
        elif m["msg_type"] == "status":
            idle = idle or m["content"]["execution_state"] == "idle"
        else:
            seen.append({"type": m["msg_type"], "content": m["content"]})
    ws.close()
    return {"reply": reply, "iopub": seen}


try:
    deadline = time.time() + 60
    while True:
        try:
            status, raw = get("/api/kernelspecs")
            break
        except Exception:
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("server did not start: " + proc.stderr.read().decode()[-2000:])
            time.sleep(0.3)
    specs = json.loads(raw)
    result["kernelspecs"] = sorted(specs["kernelspecs"].keys())
    result["groundlab_spec"] = specs["kernelspecs"].get("groundlab", {}).get("spec")
    status, raw = get("/lab" if app == "lab" else "/tree")
    result["page_status"] = status
    # Notebook 7 is a server extension too: its page is served by the same server when installed.
    try:
        status, raw = get("/tree")
        result["notebook7_page"] = status if b"notebook" in raw.lower() else "not notebook: %d" % status
    except Exception as e:
        result["notebook7_page"] = repr(e)
    status, raw = get("/api/kernels", "POST", {"name": "groundlab", "path": workdir})
    kernel = json.loads(raw)
    result["kernel_name"] = kernel["name"]
    code = ('import { display, lineChart } from "groundlab";\n'
            'console.log("from the server");\n'
            'await display(lineChart([{ step: 0, G: 0 }, { step: 1, G: 2 }], { x: "step", y: "G", title: "via server" }));')
    result["cell"] = asyncio.run(run_cell(kernel["id"], code))
    get("/api/kernels/" + kernel["id"], "DELETE")
finally:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
    with open(out_path, "w") as f:
        json.dump(result, f, indent=1, default=str)
