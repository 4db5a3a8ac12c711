"""Execute tslab notebooks headlessly and export HTML; a failing cell's real error is printed.

nbconvert's own error says only '<Error>:' for tslab (its message sits in the cell's stderr), so
this runs nbclient directly, writes the executed notebook and its HTML even on failure, and prints
the failing cell and its error in a few lines (stack frames left out; the HTML has them).
The kernel is the repository's own (jupyter/kernels/amida-tslab), whatever the venv holds.

The HTML reports open from disk with the network off: the project's template
(jupyter/nbconvert/templates/amida-report) loads nothing from a CDN, plotly charts share one
bundle beside the reports (src/notebook/plotly-bundle.ts), and a report that still references a
network URL in a src, href, url() or import() fails its notebook here. Reports over 3 MB are named.

usage: .venv/bin/python scripts/execute_notebooks.py [--out DIR] [--no-html] NOTEBOOK...
"""
import argparse
import os
import re
import subprocess
import sys
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbconvert import HTMLExporter

KERNEL = "amida-tslab"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The repository's kernelspec first: JUPYTER_PATH outranks the venv's installed copy.
os.environ["JUPYTER_PATH"] = os.pathsep.join(p for p in [os.path.join(ROOT, "jupyter"), os.environ.get("JUPYTER_PATH", "")] if p)
ERROR_LINES = 12
TEMPLATES = os.path.join(ROOT, "jupyter", "nbconvert", "templates")
PLOTLY_MIME = "application/vnd.plotly.v1+json"
MAX_REPORT_BYTES = 3 * 1024 * 1024
# A resource the page would fetch from another machine: src=, href=, CSS url() or a dynamic
# import() whose target is http(s):// or protocol-relative //.
NETWORK_REF = re.compile(
    r"""(?:\b(?:src|href)\s*=\s*["']?|\burl\(\s*["']?|\bimport\(\s*["'`])\s*((?:https?:)?//[^"'`)\s>]+)""",
    re.IGNORECASE,
)


def network_refs(html):
    """Every network URL the page references in a src, href, url() or import() (sorted, unique)."""
    return sorted(set(NETWORK_REF.findall(html)))


def failed_cell(nb):
    """The cell execution stopped at (the last one that ran) and its error text, or None."""
    ran = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.get("execution_count") is not None or c.get("outputs"))]
    if not ran:
        return None
    cell = nb.cells[ran[-1]]
    text = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream" and out.get("name") == "stderr":
            text.append(out.get("text", ""))
        elif out.get("output_type") == "error":
            text.append(f"{out.get('ename')}: {out.get('evalue')}\n" + "\n".join(out.get("traceback", [])))
    return ran[-1], cell.source, "".join(text)


def brief(text):
    """The error without its stack frames (and without ANSI colours), at most ERROR_LINES lines."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", l) for l in text.strip().splitlines()]
    lines = [l for l in lines if l.strip() and not re.match(r"\s+at |\s+\.\.\. \d+ lines matching", l)]
    return lines[:ERROR_LINES] + ([f"... ({len(lines) - ERROR_LINES} more lines)"] if len(lines) > ERROR_LINES else [])


def has_plotly(nb):
    return any(PLOTLY_MIME in out.get("data", {}) for c in nb.cells if c.cell_type == "code" for out in c.get("outputs", []))


def plotly_bundle(out_dir):
    """Writes the shared plotly bundle into out_dir (once) and returns its file name."""
    r = subprocess.run(
        ["node", "--import", "tsx", os.path.join("src", "notebook", "plotly-bundle.ts"), os.path.abspath(out_dir)],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    if r.returncode != 0:
        raise RuntimeError(f"could not write the plotly bundle: {r.stderr.strip()[-500:]}")
    return r.stdout.strip().splitlines()[-1]


def export_html(nb, path):
    """Writes the report; returns the problems that make it unfit to pass around (empty: none)."""
    exporter = HTMLExporter(template_name="amida-report", extra_template_basedirs=[TEMPLATES])
    resources = {"amida_plotly_bundle": plotly_bundle(os.path.dirname(path)) if has_plotly(nb) else ""}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(body)
    os.replace(tmp, path)
    problems = [f"references the network: {u}" for u in network_refs(body)]
    size = os.path.getsize(path)
    if size > MAX_REPORT_BYTES:
        print(f"[{os.path.basename(path)}] note: {size / 1e6:.1f} MB, over {MAX_REPORT_BYTES / 2**20:.0f} MB", file=sys.stderr)
    return problems


def write_nb(nb, path):
    tmp = path + ".tmp"
    nbformat.write(nb, tmp)
    os.replace(tmp, path)


def run(path, out_dir, html, timeout):
    nb = nbformat.read(path, as_version=4)
    nb.metadata["kernelspec"] = {"name": KERNEL, "display_name": "TypeScript (warp-amidakuji)", "language": "typescript"}
    client = NotebookClient(nb, timeout=timeout, kernel_name=KERNEL, resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}})
    name = os.path.splitext(os.path.basename(path))[0]
    t0 = time.time()
    ok = True
    reply = ""  # the kernel's own error reply: all there is when the cell wrote no error output
    try:
        client.execute()
    except CellExecutionError as e:
        ok = False
        reply = str(e)
    except Exception as e:  # kernel died, timeout: still report what ran
        ok = False
        print(f"[{name}] {type(e).__name__}: {e}", file=sys.stderr)
    os.makedirs(out_dir, exist_ok=True)
    write_nb(nb, os.path.join(out_dir, name + ".ipynb"))
    if html:
        problems = export_html(nb, os.path.join(out_dir, name + ".html"))
        for p in problems:
            print(f"[{name}] the HTML report {p}", file=sys.stderr)
        ok = ok and not problems
    secs = time.time() - t0
    if not ok:
        where = os.path.join(out_dir, name + (".html" if html else ".ipynb"))
        failed = failed_cell(nb)
        if failed:
            i, src, text = failed
            code = [l for l in src.splitlines() if l.strip() and not l.lstrip().startswith("//")]
            print(f"[{name}] FAILED in cell {i} after {secs:.1f} s:", file=sys.stderr)
            for l in code[-3:]:
                print(f"  > {l[:160]}", file=sys.stderr)
            for l in brief(text if text else f"(the cell wrote no error; the kernel replied:)\n{reply}"):
                print(f"  {l[:400]}", file=sys.stderr)
        else:
            print(f"[{name}] FAILED after {secs:.1f} s (no cell error recorded)", file=sys.stderr)
        print(f"[{name}] full output: {where}", file=sys.stderr)
    else:
        print(f"[{name}] ok in {secs:.1f} s -> {out_dir}/{name}.ipynb" + (f", {name}.html" if html else ""))
    return ok


def main():
    sys.stdout.reconfigure(line_buffering=True)  # keeps "ok" lines in order with stderr in logs
    ap = argparse.ArgumentParser()
    ap.add_argument("notebooks", nargs="+")
    ap.add_argument("--out", default="reports")
    ap.add_argument("--no-html", action="store_true")
    ap.add_argument("--timeout", type=int, default=int(os.environ.get("AMIDA_CELL_TIMEOUT", "7200")))
    a = ap.parse_args()
    results = [run(p, a.out, not a.no_html, a.timeout) for p in a.notebooks]
    failed = results.count(False)
    print(f"{len(results) - failed} of {len(results)} notebook(s) executed without error")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
