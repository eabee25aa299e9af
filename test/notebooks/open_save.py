"""Open and save notebooks the way JupyterLab does, and report which ones change.

JupyterLab, when it opens a notebook, starts its kernel and stores the kernel's kernel_info
`language_info` and the kernelspec's name, display name and language in the notebook's metadata;
saving sends the notebook to jupyter_server, whose contents manager writes it with nbformat.
This does the same with a real groundlab kernel and jupyter_server's FileContentsManager on copies
of the notebooks, and prints one JSON line: {"changed": [...], "checked": n, "language_info": ...}.

usage: python open_save.py WORKDIR NOTEBOOK.ipynb ...
"""
import json
import shutil
import sys
from pathlib import Path

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import start_new_kernel
from jupyter_server.services.contents.filemanager import FileContentsManager

work = Path(sys.argv[1])
files = [Path(f) for f in sys.argv[2:]]
for f in files:
    shutil.copy(f, work / f.name)

km, kc = start_new_kernel(kernel_name="groundlab", cwd=str(work), startup_timeout=90)
try:
    info = kc.kernel_info(reply=True, timeout=60)["content"]
finally:
    kc.stop_channels()
    km.shutdown_kernel(now=True)
spec = KernelSpecManager().get_kernel_spec("groundlab")
kernelspec = {"name": "groundlab", "display_name": spec.display_name, "language": spec.language}

cm = FileContentsManager(root_dir=str(work))
changed = []
for f in files:
    model = cm.get(f.name, content=True, type="notebook")
    nb = model["content"]
    nb.metadata["language_info"] = info["language_info"]
    nb.metadata["kernelspec"] = kernelspec
    cm.save({"type": "notebook", "format": "json", "content": nb}, f.name)
    if (work / f.name).read_bytes() != f.read_bytes():
        changed.append(f.name)
print(json.dumps({"changed": changed, "checked": len(files), "language_info": info["language_info"]}))
