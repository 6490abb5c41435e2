// The Debian package, as a user gets it: builds the .deb from the debug build
// with the Tauri CLI (`tauri build --debug --bundles deb`, which reuses the
// compiled app), unpacks it with `dpkg-deb -x` and checks what it installs —
// /usr/bin/ensemble answering `--version` with Cargo's version and no window,
// a valid desktop entry whose command and icon resolve inside the package,
// every configured icon size under hicolor — and the model package it
// recommends (scripts/model-deb.sh), unpacked beside it: the chat answers
// offline from the packaged model. Then it starts the unpacked binary under a
// private Xvfb display and waits until its window has painted the UI.
// Run by `make bundle-test` (part of `make test`).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

const ROOT = join(fileURLToPath(import.meta.url), "..", "..", "..");
const TARGET = process.env.CARGO_TARGET_DIR || join(ROOT, "target");
// Installed by scripts/setup.sh; the Makefile passes its path.
const TAURI = process.env.TAURI_CLI || join(homedir(), ".cache", "ensemble", "tauri-cli", "node_modules", ".bin", "tauri");
const DEB_DIR = join(TARGET, "debug", "bundle", "deb");

let work; // temp folder: the unpacked package and the app's data
let pkg; // the unpacked package's root
let deb; // path of the .deb
let modelDeb; // path of the model package
let version; // the app package's version in Cargo.toml

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 << 20, ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  return r;
}

function tail(text, lines = 40) {
  return text.split("\n").slice(-lines).join("\n");
}

/** Width and height from a PNG's IHDR chunk. */
function pngSize(path) {
  const b = readFileSync(path);
  assert.equal(b.subarray(1, 4).toString("latin1"), "PNG", `${path} is a PNG`);
  return [b.readUInt32BE(16), b.readUInt32BE(20)];
}

/** The [Desktop Entry] group of a .desktop file as key → value. */
function desktopEntry(text) {
  const entry = {};
  let inGroup = false;
  for (const line of text.split("\n")) {
    if (line.startsWith("[")) inGroup = line.trim() === "[Desktop Entry]";
    else if (inGroup && line.includes("=") && !line.startsWith("#")) {
      const i = line.indexOf("=");
      entry[line.slice(0, i).trim()] = line.slice(i + 1).trim();
    }
  }
  return entry;
}

before(() => {
  const meta = run("cargo", ["metadata", "--no-deps", "--format-version", "1", "--manifest-path", join(ROOT, "Cargo.toml")]);
  assert.equal(meta.status, 0, meta.stderr);
  version = JSON.parse(meta.stdout).packages.find((p) => p.name === "ensemble")?.version;
  assert.ok(version, "Cargo.toml has the ensemble package");

  assert.ok(existsSync(TAURI), `the Tauri CLI is missing at ${TAURI}; run scripts/setup.sh`);
  // A package left by an earlier build must not pass for this one.
  rmSync(DEB_DIR, { recursive: true, force: true });
  const started = Date.now();
  const build = run(TAURI, ["build", "--debug", "--ci", "--bundles", "deb"], {
    cwd: ROOT,
    env: { ...process.env, CARGO_TARGET_DIR: TARGET },
    timeout: 30 * 60 * 1000,
  });
  assert.equal(build.status, 0, `tauri build failed:\n${tail(build.stdout + build.stderr)}`);
  console.log(`# tauri build --debug --bundles deb: ${((Date.now() - started) / 1000).toFixed(1)} s`);

  const debs = readdirSync(DEB_DIR).filter((f) => f.endsWith(".deb"));
  assert.equal(debs.length, 1, `one .deb in ${DEB_DIR}: ${debs}`);
  deb = join(DEB_DIR, debs[0]);
  // The model package, built once from the cached model (scripts/model-deb.sh).
  const m = run(join(ROOT, "scripts", "model-deb.sh"), [join(TARGET, "bundle-model")], { timeout: 10 * 60 * 1000 });
  assert.equal(m.status, 0, `model-deb.sh failed:\n${m.stdout}${m.stderr}`);
  modelDeb = m.stdout.trim().split("\n").pop();
  work = mkdtempSync(join(tmpdir(), "ensemble-deb-"));
  pkg = join(work, "root");
  // Both packages into one root, as apt installs them side by side.
  for (const file of [deb, modelDeb]) {
    const x = run("dpkg-deb", ["-x", file, pkg]);
    assert.equal(x.status, 0, x.stderr);
  }
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

test("the package is named ensemble, has Cargo's version and needs WebKitGTK and the tray library", () => {
  const field = (name) => run("dpkg-deb", ["-f", deb, name]).stdout.trim();
  assert.equal(field("Package"), "ensemble");
  assert.equal(field("Version"), version);
  const depends = field("Depends").split(",").map((d) => d.trim());
  for (const need of ["libwebkit2gtk-4.1-0", "libgtk-3-0", "libayatana-appindicator3-1"]) {
    assert.ok(depends.includes(need), `Depends lists ${need}: ${depends}`);
  }
  assert.equal(new Set(depends).size, depends.length, `no dependency twice: ${depends}`);
});

test("the app recommends the model package, which carries the verified default model", () => {
  const field = (file, name) => run("dpkg-deb", ["-f", file, name]).stdout.trim();
  assert.equal(field(deb, "Recommends"), "ensemble-model-gemma3-270m");
  assert.equal(field(modelDeb, "Package"), "ensemble-model-gemma3-270m");
  assert.equal(field(modelDeb, "Architecture"), "all");
  const models = join(pkg, "usr", "share", "ensemble", "models");
  const sums = readFileSync(join(models, "SHA256SUMS"), "utf8").trim().split(/\s+/);
  assert.equal(sums[1], "gemma-3-270m-q4_k_m.gguf");
  const sha = run("sha256sum", [join(models, sums[1])]).stdout.split(" ")[0];
  assert.equal(sha, sums[0], "the packaged model is the verified one");
});

test("installed, it answers a chat offline with the packaged model", () => {
  const bin = join(pkg, "usr", "bin", "ensemble");
  const dataDir = join(work, "offline");
  const env = { ...process.env, ENSEMBLE_DATA_DIR: dataDir, OLLAMA_HOST: "http://127.0.0.1:9" };
  delete env.DISPLAY;
  delete env.WAYLAND_DISPLAY;
  const r = run(bin, ["chat", "Which planet do we live on? Answer in one word."], { env, timeout: 180000 });
  assert.equal(r.status, 0, `exit ${r.status}: ${r.stderr}`);
  assert.match(r.stdout, /earth/i, `answer: ${r.stdout}`);
  assert.ok(!existsSync(join(dataDir, "models", "gemma-3-270m-q4_k_m.gguf")), "the model came from the package, not the data folder");
});

test("/usr/bin/ensemble --version prints Cargo's version and exits without a window or data folder", () => {
  const bin = join(pkg, "usr", "bin", "ensemble");
  assert.ok(statSync(bin).mode & 0o111, "executable");
  const dataDir = join(work, "never-created");
  const env = { ...process.env, ENSEMBLE_DATA_DIR: dataDir };
  // No display at all: a window would fail to open.
  delete env.DISPLAY;
  delete env.WAYLAND_DISPLAY;
  const r = run(bin, ["--version"], { env, timeout: 30000 });
  assert.equal(r.status, 0, `exit status ${r.status} (${r.signal ?? "no signal"}): ${r.stderr}`);
  assert.equal(r.stdout.trim(), `ensemble ${version}`);
  assert.equal(r.stderr, "");
  assert.ok(!existsSync(dataDir), "--version touches no data folder");
});

test("the desktop entry is valid and its command and icon are in the package", () => {
  const dir = join(pkg, "usr", "share", "applications");
  const files = readdirSync(dir).filter((f) => f.endsWith(".desktop"));
  assert.equal(files.length, 1, `one desktop entry: ${files}`);
  const path = join(dir, files[0]);
  const v = run("desktop-file-validate", [path]);
  assert.equal(v.status, 0, `desktop-file-validate: ${v.stdout}${v.stderr}`);
  assert.equal(v.stdout + v.stderr, "", "no warnings either");

  const e = desktopEntry(readFileSync(path, "utf8"));
  assert.equal(e.Type, "Application");
  assert.equal(e.Name, "Ensemble");
  assert.equal(e.Terminal, "false");
  const exec = e.Exec?.split(/\s+/)[0];
  assert.ok(existsSync(join(pkg, "usr", "bin", exec)), `Exec=${e.Exec} is /usr/bin/${exec}`);
  assert.ok(e.Icon && !e.Icon.includes("/"), `Icon is a theme name: ${e.Icon}`);
  const hicolor = join(pkg, "usr", "share", "icons", "hicolor");
  const found = readdirSync(hicolor).filter((size) => existsSync(join(hicolor, size, "apps", `${e.Icon}.png`)));
  assert.ok(found.length > 0, `Icon=${e.Icon} is under hicolor/*/apps`);
});

test("every configured icon is installed under hicolor at its own size", () => {
  const conf = JSON.parse(readFileSync(join(ROOT, "tauri.conf.json"), "utf8"));
  const configured = conf.bundle.icon.filter((p) => p.endsWith(".png"));
  const hicolor = join(pkg, "usr", "share", "icons", "hicolor");
  const installed = readdirSync(hicolor).sort();
  const expected = [...new Set(configured.map((p) => pngSize(join(ROOT, p)).join("x")))].sort();
  assert.deepEqual(installed, expected, "one hicolor size folder per configured icon size");
  for (const dir of installed) {
    const icon = join(hicolor, dir, "apps", "ensemble.png");
    assert.ok(existsSync(icon), `${dir}/apps/ensemble.png`);
    assert.equal(pngSize(icon).join("x"), dir, `${dir}/apps/ensemble.png has the size its folder says`);
  }
  for (const size of ["32x32", "128x128", "256x256"]) {
    assert.ok(installed.includes(size), `a ${size} icon for menus and launchers`);
  }
});

test("the unpacked binary opens its window and paints the UI from the package alone", async () => {
  const display = await startXvfb();
  const dataDir = join(work, "data");
  const env = {
    ...process.env,
    DISPLAY: display.name,
    ENSEMBLE_BENCH_READY: "1",
    XDG_CONFIG_HOME: join(work, "config"),
    XDG_CACHE_HOME: join(work, "cache"),
    XDG_DATA_HOME: join(work, "share"),
  };
  // No session bus: single-instance and notifications degrade (as in the e2e tests).
  delete env.DBUS_SESSION_BUS_ADDRESS;
  delete env.WAYLAND_DISPLAY;
  // Not from the source tree: the web assets must be inside the binary.
  const app = spawn(join(pkg, "usr", "bin", "ensemble"), ["--data-dir", dataDir], {
    cwd: work,
    env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let out = "";
  let err = "";
  app.stdout.on("data", (d) => (out += d));
  app.stderr.on("data", (d) => (err += d));
  try {
    // Setup (tray, runner) finishes before the event loop paints the page,
    // so the painted line also means the tray was installed.
    const end = Date.now() + 120000;
    while (!/^ensemble-ui-painted unix_us=\d+$/m.test(out)) {
      assert.equal(app.exitCode, null, `the app exited (${app.exitCode}):\n${tail(err)}`);
      assert.ok(Date.now() < end, `no painted window after 120 s:\n${tail(err)}`);
      await sleep(100);
    }
    assert.ok(existsSync(join(dataDir, "ensemble.db")), "the app opened its store in the data folder");
  } finally {
    await stopGroup(app);
    display.stop();
  }
});

/** Starts Xvfb on a free display; resolves once its socket exists. */
async function startXvfb() {
  for (let attempt = 0; attempt < 20; attempt++) {
    const n = 500 + Math.floor(Math.random() * 400);
    if (existsSync(`/tmp/.X11-unix/X${n}`) || existsSync(`/tmp/.X${n}-lock`)) continue;
    const proc = spawn("Xvfb", [`:${n}`, "-screen", "0", "1400x900x24", "-nolisten", "tcp"], { stdio: "ignore" });
    for (let i = 0; i < 100 && proc.exitCode === null; i++) {
      if (existsSync(`/tmp/.X11-unix/X${n}`)) return { name: `:${n}`, stop: () => proc.kill() };
      await sleep(50);
    }
    proc.kill();
  }
  throw new Error("cannot start Xvfb (is it installed? run scripts/setup.sh)");
}

/** Ends a detached process and its children (WebKit's processes): SIGTERM, then SIGKILL. */
async function stopGroup(proc) {
  const signal = (sig) => {
    try {
      process.kill(-proc.pid, sig);
      return true;
    } catch {
      return false;
    }
  };
  if (signal("SIGTERM")) {
    for (let i = 0; i < 50 && signal(0); i++) await sleep(100);
    signal("SIGKILL");
  }
  proc.stdout?.destroy();
  proc.stderr?.destroy();
}
