"""git clean filter: a notebook as the repository keeps it, without what running it adds.

Outputs, execution counts, per-cell run metadata (timings, scroll state) and the kernel's extra
language_info go; the sources stay. With the filter configured, JupyterLab's autosave of a
notebook that was only run leaves `git status` clean, and `git add` never commits outputs.

    git config filter.nbstrip.clean "python3 jupyter/strip_outputs.py"
    git config filter.nbstrip.smudge cat
    (.gitattributes: notebooks/*.ipynb filter=nbstrip)

Reads the notebook on stdin, writes it on stdout; plain Python 3, no packages needed.
"""
import json
import sys

RUN_METADATA = ("execution", "scrolled", "collapsed", "ExecuteTime")


def strip(nb):
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        for key in RUN_METADATA:
            cell.get("metadata", {}).pop(key, None)
    info = nb.get("metadata", {}).get("language_info")
    if isinstance(info, dict) and "name" in info:
        nb["metadata"]["language_info"] = {"name": info["name"]}
    return nb


def main():
    text = sys.stdin.read()
    try:
        nb = json.loads(text)
    except ValueError:
        sys.stdout.write(text)  # not JSON (a merge in progress): leave it to git
        return
    sys.stdout.write(json.dumps(strip(nb), indent=1, sort_keys=True, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
