/**
 * JupyterLab for browser tests: the project's venv and kernel, on a free localhost port with a
 * random token, in a scratch folder under .ci-out/ (notebooks copied there, runs and data there,
 * Lab's settings, workspaces and notebook signatures there), so a test never writes into the
 * checkout's notebooks or runs. The scratch folder is inside the repository because the kernel
 * finds the project by walking up from the notebook's folder to package.json.
 */
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { randomBytes } from "crypto";
import { ChildProcess, spawn } from "child_process";
import type { Page } from "playwright-core";

export const ROOT = path.resolve(__dirname, "..");

export interface LabServer {
  /** e.g. http://127.0.0.1:40123 */
  base: string;
  token: string;
  /** The folder Lab serves (notebooks copied here). */
  dir: string;
  /** AMIDA_NB_RUNS / AMIDA_NB_DATA of the kernels. */
  runs: string;
  data: string;
  /** Lab's output so far (its log). */
  log: () => string;
  /** `${base}/lab/tree/${file}?token=...` (with `reset`: no saved workspace). */
  url: (file: string) => string;
  stop: () => Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts JupyterLab with `env` added to the kernels' environment (e.g. AMIDA_NB_BUDGET=tiny; a
 * variable set to "" is left out), serving copies of `notebooks`; resolves once its API answers.
 */
export async function startLab(
  notebooks: string[],
  env: Record<string, string> = {},
  timeoutMs = 90_000,
): Promise<LabServer> {
  const jupyter = path.join(ROOT, ".venv", "bin", "jupyter");
  if (!fs.existsSync(jupyter))
    throw new Error(`no ${jupyter}: run 'make bootstrap' (it installs JupyterLab into .venv)`);
  const scratch = path.join(ROOT, ".ci-out", `lab-${process.pid}-${Date.now()}`);
  const dir = path.join(scratch, "notebooks");
  const home = path.join(scratch, "jupyter");
  fs.mkdirSync(dir, { recursive: true });
  for (const nb of notebooks)
    fs.copyFileSync(path.join(ROOT, "notebooks", nb), path.join(dir, path.basename(nb)));
  // No "get notified about Jupyter news?" pop-up over the notebook.
  const news = path.join(home, "settings", "@jupyterlab", "apputils-extension");
  fs.mkdirSync(news, { recursive: true });
  fs.writeFileSync(path.join(news, "notification.jupyterlab-settings"), '{ "fetchNews": "false" }');
  const token = randomBytes(16).toString("hex");
  const port = await freePort();
  const runs = path.join(scratch, "runs");
  const data = path.join(scratch, "data");
  const child: ChildProcess = spawn(
    jupyter,
    [
      "lab",
      "--no-browser",
      "--ip=127.0.0.1",
      `--port=${port}`,
      "--ServerApp.port_retries=0",
      `--IdentityProvider.token=${token}`,
      `--ServerApp.root_dir=${dir}`,
      "--LabApp.expose_app_in_browser=True",
      `--LabApp.user_settings_dir=${path.join(home, "settings")}`,
      `--LabApp.workspaces_dir=${path.join(home, "workspaces")}`,
      ...(process.getuid?.() === 0 ? ["--allow-root"] : []),
    ],
    {
      cwd: dir,
      env: {
        ...process.env,
        // The repository's kernelspec first (as scripts/execute_notebooks.py does).
        JUPYTER_PATH: path.join(ROOT, "jupyter"),
        JUPYTER_CONFIG_DIR: path.join(home, "config"),
        JUPYTER_DATA_DIR: path.join(home, "data"),
        JUPYTER_RUNTIME_DIR: path.join(home, "runtime"),
        ...Object.fromEntries(
          Object.entries({ AMIDA_NB_RUNS: runs, AMIDA_NB_DATA: data, ...env }).filter(
            ([, v]) => v !== "",
          ),
        ),
      },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    },
  );
  let log = "";
  child.stdout!.on("data", (d) => (log += d));
  child.stderr!.on("data", (d) => (log += d));
  const base = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.pid) {
      const exited = new Promise((r) => child.once("exit", r));
      process.kill(-child.pid, "SIGTERM"); // Lab and the kernels it started
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null) process.kill(-child.pid, "SIGKILL");
    }
    fs.rmSync(scratch, { recursive: true, force: true });
  };
  const t0 = Date.now();
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(
        `JupyterLab exited (${child.exitCode}) before answering:\n${log.slice(-3000)}`,
      );
    }
    try {
      const r = await fetch(`${base}/api/status?token=${token}`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() - t0 > timeoutMs) {
      await stop();
      throw new Error(
        `JupyterLab did not answer within ${timeoutMs / 1000} s:\n${log.slice(-3000)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    base,
    token,
    dir,
    runs,
    data,
    log: () => log,
    url: (file: string) => `${base}/lab/tree/${file}?reset&token=${token}`,
    stop,
  };
}

/** Runs a command of the Lab app (exposed with --LabApp.expose_app_in_browser), without awaiting it. */
export async function command(page: Page, id: string, args: object = {}): Promise<void> {
  await page.evaluate(
    ([id, args]) => {
      void (window as any).jupyterapp.commands.execute(id, args);
    },
    [id, args] as const,
  );
}

export async function kernelIdle(page: Page, timeout = 90_000): Promise<void> {
  await page.waitForFunction(
    () =>
      (window as any).jupyterapp?.shell?.currentWidget?.sessionContext?.session?.kernel?.status ===
      "idle",
    null,
    { timeout },
  );
}

/**
 * Moves the mouse over a data point of the page's first plotly chart; resolves to the tooltip's
 * text. A reopened notebook shows plotly's saved picture until the mouse enters it, and Lab may
 * still be scrolling a reopened notebook: each step is retried until it took effect.
 */
export async function hoverPlotly(page: Page): Promise<string> {
  const plot = page.locator(".jp-RenderedPlotly").first();
  const live = plot.locator(".plot-container");
  for (let i = 0; i < 10 && !(await live.isVisible()); i++) {
    await page.mouse.move(0, 0);
    // Playwright scrolls the element into view and checks that the mouse lands on it.
    await plot.hover({ timeout: 10_000 }).catch(() => undefined);
    await live.waitFor({ state: "visible", timeout: 5_000 }).catch(() => undefined);
  }
  await live.waitFor({ state: "visible", timeout: 10_000 });
  const point = plot.locator(".scatterlayer .trace .points path").last();
  const tip = plot.locator(".hoverlayer .hovertext").first();
  for (let i = 0; i < 10; i++) {
    await point.scrollIntoViewIfNeeded();
    await page.waitForTimeout(300);
    const p = await point.boundingBox();
    const box = await plot.boundingBox();
    if (p && box) {
      await page.mouse.move(box.x + 2, box.y + 2);
      await page.mouse.move(p.x + p.width / 2, p.y + p.height / 2, { steps: 5 });
      if (
        await tip.waitFor({ state: "visible", timeout: 3_000 }).then(
          () => true,
          () => false,
        )
      )
        return (await tip.textContent()) ?? "";
    }
  }
  throw new Error("no plotly tooltip after 10 tries at hovering a data point");
}
