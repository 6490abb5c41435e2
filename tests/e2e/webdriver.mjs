// A small W3C WebDriver client for the end-to-end tests: it talks to
// tauri-driver, which drives the real app through WebKitWebDriver.
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";

const ELEMENT = "element-6066-11e4-a52e-4f735466cecf";
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const SHOTS = join(ROOT, "target", "e2e");

/** The default embedded model, installed by `make test` (scripts/install-model.sh). */
export function testModel() {
  return (
    process.env.ENSEMBLE_TEST_MODEL ||
    join(process.env.HOME || "/root", ".cache", "ensemble", "models", "gemma-3-270m-q4_k_m.gguf")
  );
}

/** A fresh data folder whose models/ holds the embedded model (hard link, or copy). */
export function dataDirWithModel(prefix = "ensemble-e2e-") {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const models = join(dir, "models");
  mkdirSync(models, { recursive: true });
  const src = testModel();
  if (!existsSync(src)) throw new Error(`the test model is missing at ${src}; run scripts/install-model.sh`);
  const dst = join(models, "gemma-3-270m-q4_k_m.gguf");
  try {
    linkSync(src, dst);
  } catch {
    copyFileSync(src, dst);
  }
  return dir;
}

export function appBinary() {
  if (process.env.ENSEMBLE_BIN) return process.env.ENSEMBLE_BIN;
  const target = process.env.CARGO_TARGET_DIR || join(ROOT, "target");
  return join(target, "debug", "ensemble");
}

/** Starts tauri-driver on a free port with the given environment; resolves when it listens. */
export async function startDriver(env = {}) {
  const port = 4444 + Math.floor(Math.random() * 400) * 2;
  // Its own process group: stop() ends tauri-driver, WebKitWebDriver and the
  // app together, even when the app outlives the WebDriver session.
  const proc = spawn("tauri-driver", ["--port", String(port), "--native-port", String(port + 1)], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let log = "";
  proc.stdout.on("data", (d) => (log += d));
  proc.stderr.on("data", (d) => (log += d));
  const url = `http://127.0.0.1:${port}`;
  // Up to 30 s: on a loaded 2-core machine it once took more than 10.
  for (let i = 0; i < 300; i++) {
    try {
      const r = await fetch(`${url}/status`);
      if (r.ok) return { url, proc, log: () => log, stop: () => stopGroup(proc) };
    } catch {
      /* not up yet */
    }
    if (proc.exitCode !== null) throw new Error(`tauri-driver exited: ${log}`);
    await sleep(100);
  }
  proc.kill();
  throw new Error(`tauri-driver did not start: ${log}`);
}

/** Ends a detached process and everything it started (SIGTERM, then SIGKILL). */
async function stopGroup(proc) {
  const signal = (sig) => {
    try {
      process.kill(-proc.pid, sig);
      return true;
    } catch {
      return false; // the group is gone
    }
  };
  if (signal("SIGTERM")) {
    for (let i = 0; i < 30 && signal(0); i++) await sleep(100);
    signal("SIGKILL");
  }
  proc.stdout?.destroy();
  proc.stderr?.destroy();
}

/** Closes the session, stops the driver and the app, removes the data folder. */
export async function shutdown({ session, driver, dataDir }) {
  await session?.close();
  await driver?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}

/** Whether `e` is WebDriver's "stale element reference" (the element left the page). */
export function isStale(e) {
  return /stale element/i.test(String(e?.message ?? e));
}

/** Polls `f` until it returns something truthy (its value), or fails after `timeout` ms. */
export async function until(what, f, timeout = 60000) {
  const end = Date.now() + timeout;
  let last;
  while (Date.now() < end) {
    try {
      last = await f();
      if (last) return last;
    } catch (e) {
      // The page re-rendered between finding an element and using it
      // (WebKitWebDriver: "stale element reference"): look again.
      if (!isStale(e)) throw e;
      last = e.message;
    }
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}

export class Session {
  constructor(url, id) {
    this.url = url;
    this.id = id;
  }

  static async create(driverUrl, application, args = []) {
    const body = {
      capabilities: { alwaysMatch: { "tauri:options": { application, args } } },
    };
    const r = await fetch(`${driverUrl}/session`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const j = await r.json();
    if (!r.ok || !j.value?.sessionId) throw new Error(`cannot create session: ${JSON.stringify(j)}`);
    return new Session(driverUrl, j.value.sessionId);
  }

  async cmd(method, path, body) {
    const r = await fetch(`${this.url}/session/${this.id}${path}`, {
      method,
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const j = await r.json();
    if (!r.ok) {
      const err = new Error(`${method} ${path}: ${j.value?.error ?? r.status}: ${j.value?.message ?? ""}`);
      err.code = j.value?.error;
      throw err;
    }
    return j.value;
  }

  async find(css) {
    const v = await this.cmd("POST", "/element", { using: "css selector", value: css });
    return new El(this, v[ELEMENT]);
  }

  async findAll(css) {
    const v = await this.cmd("POST", "/elements", { using: "css selector", value: css });
    return v.map((e) => new El(this, e[ELEMENT]));
  }

  /** Waits until `css` matches an element (and `pred(el)` holds, if given). */
  async waitFor(css, { timeout = 15000, pred } = {}) {
    const end = Date.now() + timeout;
    let last;
    while (Date.now() < end) {
      try {
        const els = await this.findAll(css);
        for (const el of els) {
          if (!pred || (await pred(el))) return el;
        }
      } catch (e) {
        last = e;
      }
      await sleep(150);
    }
    throw new Error(`timed out waiting for ${css}${last ? `: ${last.message}` : ""}`);
  }

  /** Waits for an element whose text contains `text`. */
  waitForText(css, text, opts = {}) {
    return this.waitFor(css, { ...opts, pred: async (el) => (await el.text()).includes(text) });
  }

  exec(script, args = []) {
    return this.cmd("POST", "/execute/sync", { script, args });
  }

  /** Calls an IPC command from inside the page, as the UI would. */
  async invoke(command, args = {}) {
    return this.cmd("POST", "/execute/async", {
      script:
        "const [c, a, done] = arguments; window.__TAURI_INTERNALS__.invoke(c, a).then((v) => done({ ok: v }), (e) => done({ err: e }));",
      args: [command, args],
    });
  }

  async screenshot(name) {
    // Let pending renders reach the screen before capturing it.
    await this.cmd("POST", "/execute/async", {
      script: "const done = arguments[0]; requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(done, 50)));",
      args: [],
    });
    const b64 = await this.cmd("GET", "/screenshot");
    mkdirSync(SHOTS, { recursive: true });
    const path = join(SHOTS, `${name}.png`);
    writeFileSync(path, Buffer.from(b64, "base64"));
    return path;
  }

  async close() {
    try {
      await fetch(`${this.url}/session/${this.id}`, { method: "DELETE" });
    } catch {
      /* already gone */
    }
  }
}

export class El {
  constructor(session, id) {
    this.s = session;
    this.id = id;
  }
  click() {
    return this.s.cmd("POST", `/element/${this.id}/click`, {});
  }
  type(text) {
    return this.s.cmd("POST", `/element/${this.id}/value`, { text });
  }
  clear() {
    return this.s.cmd("POST", `/element/${this.id}/clear`, {});
  }
  text() {
    return this.s.cmd("GET", `/element/${this.id}/text`);
  }
  attr(name) {
    return this.s.cmd("GET", `/element/${this.id}/attribute/${name}`);
  }
  prop(name) {
    return this.s.cmd("GET", `/element/${this.id}/property/${name}`);
  }
}
