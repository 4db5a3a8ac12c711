/**
 * Debian's chromium (apt), driven by Playwright's Node library (npm, no browser download): what
 * the browser tests and browser benchmarks launch. Offline by default: every request that leaves
 * the machine is refused, so a page that reaches for the network fails its test.
 */
import * as fs from "fs";
import { chromium, Browser, BrowserContext } from "playwright-core";

/** Where bootstrap puts the browser (Debian's package); AMIDA_CHROMIUM overrides. */
export function chromiumPath(): string {
  const candidates = [process.env.AMIDA_CHROMIUM, "/usr/bin/chromium", "/usr/bin/chromium-browser"];
  const found = candidates.find((p): p is string => !!p && fs.existsSync(p));
  if (!found)
    throw new Error(
      "no chromium found (looked at $AMIDA_CHROMIUM, /usr/bin/chromium, /usr/bin/chromium-browser); install it with 'sudo apt-get install -y chromium' or run 'make bootstrap'",
    );
  return found;
}

/** A headless browser; containers run as root, where chromium needs --no-sandbox. */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
}

/**
 * A context whose pages can load file:// and http://127.0.0.1 / localhost only; any other
 * request is aborted and recorded in `blocked` (the test asserts it stays empty).
 */
export async function offlineContext(
  browser: Browser,
): Promise<{ context: BrowserContext; blocked: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const blocked: string[] = [];
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (/^(file:|data:|blob:|about:|https?:\/\/(127\.0\.0\.1|localhost)[:/])/.test(url))
      return route.continue();
    blocked.push(url);
    return route.abort();
  });
  return { context, blocked };
}
