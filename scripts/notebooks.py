"""Build and execute groundlab's curated notebooks.

The editable source of each notebook is notebooks/src/NAME.ts in "percent" form: a line
`// %% [markdown]` starts a markdown cell (its lines are written as `// text`), a line `// %%`
starts a code cell. `build` turns every source into notebooks/NAME.ipynb (groundlab kernel; code
cells whose source did not change keep their outputs), with the kernel's own language_info and in
nbformat's layout, so that opening and saving a notebook in JupyterLab leaves it byte-identical;
`check` also checks that; `run` executes notebooks with nbclient on the installed groundlab kernel.

usage:
  python scripts/notebooks.py build                     # notebooks/src/*.ts -> notebooks/*.ipynb
  python scripts/notebooks.py check                     # exit 1 if an .ipynb's cells differ from its source
  python scripts/notebooks.py run [--preset tiny|quick|medium] [--out DIR] [--timeout S] [NAME ...]
      execute (default: every notebook, in place, with GROUNDLAB_PRESET=quick); with --out the
      executed copies go to DIR and the originals stay as they are. Exit 1 if any cell fails.
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NB_DIR = ROOT / "notebooks"
SRC_DIR = NB_DIR / "src"

KERNELSPEC = {"display_name": "groundlab (TypeScript)", "language": "typescript", "name": "groundlab"}


def language_info():
    """The kernel's own language_info (what JupyterLab stores when it opens a notebook), so that
    opening a notebook does not modify it. Asked of the built kernel: dist/kernel/main.js."""
    import subprocess

    main = ROOT / "dist" / "kernel" / "main.js"
    if not main.exists():
        sys.exit(f"{main} is missing: build the kernel first (npm run build)")
    out = subprocess.run(["node", str(main), "--language-info"], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def dumps(nb):
    """A notebook as nbformat (and so jupyter_server, when JupyterLab saves) writes it: sorted keys,
    one-space indent, UTF-8, multi-line strings as lists of lines, a final newline."""
    return json.dumps(nb, indent=1, sort_keys=True, separators=(",", ": "), ensure_ascii=False) + "\n"


def parse(src: Path):
    """The cells of a percent-form source: [(kind, text)]."""
    cells, kind, lines = [], None, []

    def flush():
        if kind is not None:
            text = "\n".join(lines).strip("\n")
            if text:
                cells.append((kind, text))

    for lineno, line in enumerate(src.read_text(encoding="utf8").splitlines(), 1):
        s = line.strip()
        if s.startswith("// %%"):
            flush()
            kind, lines = ("markdown" if "[markdown]" in s else "code"), []
            continue
        if kind is None:
            if s:
                sys.exit(f"{src}:{lineno}: text before the first '// %%' cell marker")
            continue
        if kind == "markdown":
            if s and not s.startswith("//"):
                sys.exit(f"{src}:{lineno}: a markdown cell line must start with '//'")
            line = line.strip()[2:]
            line = line[1:] if line.startswith(" ") else line
        lines.append(line)
    flush()
    return cells


def to_lines(text: str):
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + [parts[-1]]


def notebook(cells, stem, langinfo):
    out = []
    for i, (kind, text) in enumerate(cells):
        c = {"cell_type": kind, "id": f"{stem}-{i}", "metadata": {}, "source": to_lines(text)}
        if kind == "code":
            c.update(execution_count=None, outputs=[])
        out.append(c)
    return {"cells": out, "metadata": {"kernelspec": KERNELSPEC, "language_info": langinfo}, "nbformat": 4, "nbformat_minor": 5}


def build(_args):
    """Write every notebook from its source; a code cell whose source is unchanged keeps its outputs."""
    langinfo = language_info()
    for src in sorted(SRC_DIR.glob("*.ts")):
        dst = NB_DIR / (src.stem + ".ipynb")
        nb = notebook(parse(src), src.stem, langinfo)
        kept = 0
        if dst.exists():
            old = {("".join(c["source"])): c for c in json.loads(dst.read_text(encoding="utf8"))["cells"] if c["cell_type"] == "code"}
            for c in nb["cells"]:
                prev = old.get("".join(c["source"])) if c["cell_type"] == "code" else None
                if prev is not None and prev.get("outputs"):
                    c["outputs"], c["execution_count"] = prev["outputs"], prev.get("execution_count")
                    kept += 1
        dst.write_text(dumps(nb), encoding="utf8")
        print(f"built {dst.relative_to(ROOT)}" + (f" (kept the outputs of {kept} unchanged code cells)" if kept else ""))


def check(_args):
    bad = 0
    langinfo = language_info()
    for src in sorted(SRC_DIR.glob("*.ts")):
        dst = NB_DIR / (src.stem + ".ipynb")
        want = [(k, t) for k, t in parse(src)]
        if not dst.exists():
            print(f"{dst.relative_to(ROOT)}: missing (run: python scripts/notebooks.py build)")
            bad += 1
            continue
        text = dst.read_text(encoding="utf8")
        nb = json.loads(text)
        have = [(c["cell_type"], "".join(c["source"])) for c in nb["cells"]]
        if have != want:
            print(f"{dst.relative_to(ROOT)}: cells differ from {src.relative_to(ROOT)} (run: python scripts/notebooks.py build)")
            bad += 1
        elif nb["metadata"] != {"kernelspec": KERNELSPEC, "language_info": langinfo}:
            print(f"{dst.relative_to(ROOT)}: metadata differs from the kernel's (opening it would modify it; run: python scripts/notebooks.py build)")
            bad += 1
        elif text != dumps(nb):
            print(f"{dst.relative_to(ROOT)}: not in nbformat's layout (saving it would rewrite it; run: python scripts/notebooks.py build)")
            bad += 1
    sys.exit(1 if bad else 0)


def run(args):
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    names = args.names or [p.stem for p in sorted(SRC_DIR.glob("*.ts"))]
    os.environ["GROUNDLAB_PRESET"] = args.preset
    failed = []
    for name in names:
        path = NB_DIR / (name if name.endswith(".ipynb") else name + ".ipynb")
        if not path.exists():
            sys.exit(f"{path}: no such notebook (names: {', '.join(p.stem for p in sorted(NB_DIR.glob('*.ipynb')))})")
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(nb, timeout=args.timeout, startup_timeout=120, kernel_name="groundlab", resources={"metadata": {"path": str(NB_DIR)}})
        t0 = time.time()
        try:
            client.execute()
            status = "ok"
        except CellExecutionError as e:
            status = "FAILED"
            failed.append(name)
            print(str(e)[:3000], file=sys.stderr)
        dt = time.time() - t0
        dst = Path(args.out) / path.name if args.out else path
        dst.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, dst)
        print(f"{status} {path.name} ({dt:.0f} s, preset {args.preset}) -> {dst}", flush=True)
    sys.exit(1 if failed else 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("build").set_defaults(fn=build)
    sub.add_parser("check").set_defaults(fn=check)
    r = sub.add_parser("run")
    r.add_argument("--preset", choices=["tiny", "quick", "medium", "paper"], default="quick")
    r.add_argument("--out")
    r.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    r.add_argument("names", nargs="*")
    r.set_defaults(fn=run)
    args = ap.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
