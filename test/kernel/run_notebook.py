"""Execute a notebook with nbclient on the installed groundlab kernel (the notebook's kernelspec).

usage: python run_notebook.py IN.ipynb OUT.ipynb WORKDIR
Exit status 0 when every cell ran; 1 with the error printed otherwise (OUT is written either way).
"""
import sys

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

src, dst, workdir = sys.argv[1], sys.argv[2], sys.argv[3]
nb = nbformat.read(src, as_version=4)
client = NotebookClient(nb, timeout=180, startup_timeout=90, resources={"metadata": {"path": workdir}})
status = 0
try:
    client.execute()
except CellExecutionError as e:
    print(str(e)[:4000], file=sys.stderr)
    status = 1
nbformat.write(nb, dst)
sys.exit(status)
