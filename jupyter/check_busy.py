"""Headless check: does the kernel report busy for as long as a cell awaits a promise?

Runs a cell that awaits a 5 s promise and, 1 s in, sends the requests JupyterLab sends on a page
(re)connect and while typing (kernel_info, complete). A front end shows the state of the last
status message; this prints that state over time and fails unless it stays busy until the cell
ends.

usage: .venv/bin/python jupyter/check_busy.py [--stock]
  --stock: tslab's own kernel command instead of jupyter/kernel.js (shows the bug)
"""
import json
import os
import sys
import tempfile
import time

from jupyter_client.manager import KernelManager

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECONDS = 5


def kernel_dir(stock):
    """A kernelspec folder for JUPYTER_PATH: the project's, or one running tslab's own command."""
    if not stock:
        return os.path.join(ROOT, "jupyter")
    d = tempfile.mkdtemp()
    os.makedirs(os.path.join(d, "kernels", "amida-tslab"))
    spec = {"argv": [os.path.join(ROOT, "node_modules", ".bin", "tslab"), "kernel", "--config-path", "{connection_file}"], "display_name": "stock tslab", "language": "typescript"}
    with open(os.path.join(d, "kernels", "amida-tslab", "kernel.json"), "w") as f:
        json.dump(spec, f)
    return d


def main():
    stock = "--stock" in sys.argv
    os.environ["JUPYTER_PATH"] = kernel_dir(stock)
    km = KernelManager(kernel_name="amida-tslab")
    km.start_kernel(cwd=ROOT)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        while kc.iopub_channel.msg_ready():
            kc.get_iopub_msg()
        t0 = time.time()
        sent = None  # the kernel's clock when it took the cell (status timestamps are the kernel's)
        exec_id = kc.execute(f"await new Promise((r) => setTimeout(r, {SECONDS * 1000}));\nconsole.log('settled');")
        time.sleep(1)
        kc.kernel_info()
        kc.complete("Math.ma", 7)
        states = []  # (seconds since the kernel took the cell, state shown by a front end, request)
        done = None
        while done is None or time.time() < done + 0.5:
            try:
                msg = kc.get_iopub_msg(timeout=0.2)
            except Exception:
                if time.time() - t0 > SECONDS + 30:
                    raise SystemExit("no idle status for the cell within 35 s")
                continue
            if msg["header"]["msg_type"] == "status":
                stamp = msg["header"]["date"].timestamp()
                if sent is None and msg["parent_header"].get("msg_id") == exec_id:
                    sent = stamp
                states.append((stamp - (sent if sent is not None else stamp), msg["content"]["execution_state"], msg["parent_header"].get("msg_type")))
                if msg["parent_header"].get("msg_id") == exec_id and msg["content"]["execution_state"] == "idle":
                    done = time.time()
        for t, s, parent in states:
            print(f"{t:6.2f} s  {s:5}  (for {parent})")
        first_idle = next((t for t, s, _ in states if s == "idle"), None)
        busy_for = first_idle if first_idle is not None else float("nan")
        print(f"{'stock tslab' if stock else 'jupyter/kernel.js'}: the front end shows busy for {busy_for:.2f} s of a {SECONDS} s cell")
        sys.exit(0 if busy_for >= SECONDS else 1)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


if __name__ == "__main__":
    main()
