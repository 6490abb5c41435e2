// End-to-end: the Settings view on the real app (debug build) under Xvfb.
// A bad limit shows an inline error and is not saved; new limits (tasks at
// once, approval expiry) and an allow-list host are saved with the section's
// button; the app is then stopped and started again on the same data
// folder, and the form shows the saved values. After the restart the Data
// panel exports all data to the suggested file and resets the demo data
// (after its confirmation). Screenshots in target/e2e/settings-*.png.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Session, appBinary, shutdown, startDriver, until } from "./webdriver.mjs";

const dataDir = mkdtempSync(join(tmpdir(), "ensemble-e2e-settings-"));
const env = {
  ENSEMBLE_DATA_DIR: dataDir,
  // Nothing answers here; these tests run no model.
  OLLAMA_HOST: "127.0.0.1:9",
  ENSEMBLE_NO_KEYRING: "1",
};
let driver;
let s;

async function start() {
  driver = await startDriver(env);
  s = await Session.create(driver.url, appBinary());
}

before(start);

// The data folder stays for the restart; removed with the last app.
after(() => shutdown({ session: s, driver, dataDir }));

async function ipc(cmd, args = {}) {
  const r = await s.invoke(cmd, args);
  assert.ok(!r.err, `${cmd}: ${JSON.stringify(r.err)}`);
  return r.ok;
}

async function openSettings() {
  await (await s.waitFor("nav .nav-item[data-view='settings']")).click();
  return s.waitFor("form[aria-label='Work settings'] input[name='max_concurrent_tasks']");
}

const value = async (css) => (await s.find(css)).prop("value");

// WebKitWebDriver does not scroll a field below the fold into view itself.
const SCROLL =
  "const [css, text] = arguments; const el = [...document.querySelectorAll(css)].find((e) => !text || e.textContent.includes(text)); if (el) el.scrollIntoView({ block: 'center' }); return !!el;";

/** The first element matching `css` (whose text contains `text`), scrolled into view. */
async function visible(css, text) {
  await until(`${css} ${text ?? ""}`, () => s.exec(SCROLL, [css, text ?? ""]), 15000);
  return text ? s.waitForText(css, text) : s.find(css);
}

async function setField(css, text) {
  const el = await visible(css);
  await el.clear();
  await el.type(text);
}

async function click(css, text) {
  await (await visible(css, text)).click();
}

const WORK = "form[aria-label='Work settings']";
const TOOLS = "form[aria-label='Tool settings']";

test("limits saved in Settings are still there after a restart", async () => {
  await openSettings();
  assert.equal(await value(`${WORK} input[name='max_concurrent_tasks']`), "10");
  assert.equal(await value(`${WORK} input[name='approval_expiry_hours']`), "24");

  // Out of range: an inline error, and nothing is sent.
  await setField(`${WORK} input[name='max_concurrent_tasks']`, "0");
  const err = await s.waitForText(`${WORK} .field-error`, "whole number from 1 to 256");
  assert.equal(await err.text(), "Enter a whole number from 1 to 256.");
  await click(`${WORK} button[type='submit']`);
  await s.screenshot("settings-invalid");
  assert.equal((await ipc("settings_get")).max_concurrent_tasks, 10);

  await setField(`${WORK} input[name='max_concurrent_tasks']`, "3");
  await setField(`${WORK} input[name='approval_expiry_hours']`, "36");
  await click(`${WORK} button[type='submit']`);
  await s.waitForText(`${WORK} .saved`, "Saved");
  const saved = await ipc("settings_get");
  assert.equal(saved.max_concurrent_tasks, 3);
  assert.equal(saved.approval_expiry_hours, 36);

  await setField(`${TOOLS} input[aria-label='Host to allow']`, "localhost:8080");
  await click(`${TOOLS} button`, "Add host");
  await s.waitForText(`${TOOLS} ul[aria-label='Allowed hosts'] li`, "localhost:8080");
  await click(`${TOOLS} button[type='submit']`);
  await s.waitForText(`${TOOLS} .saved`, "Saved");
  await s.screenshot("settings-saved");

  // Stop the app and start it again on the same data folder.
  await s.close();
  await driver.stop();
  await start();
  await openSettings();
  assert.equal(
    await until("the saved limit in the form", async () => {
      const v = await value(`${WORK} input[name='max_concurrent_tasks']`);
      return v === "3" ? v : null;
    }),
    "3",
  );
  assert.equal(await value(`${WORK} input[name='approval_expiry_hours']`), "36");
  await s.waitForText(`${TOOLS} ul[aria-label='Allowed hosts'] li`, "localhost:8080");
  const after = await ipc("settings_get");
  assert.deepEqual(
    [after.max_concurrent_tasks, after.approval_expiry_hours, after.web_fetch_allow_list],
    [3, 36, ["localhost:8080"]],
  );
  await s.screenshot("settings-after-restart");
});

test("the Data panel exports all data and resets the demo data after a confirmation", async () => {
  // Hold the queue so the demo's queued tasks stay queued.
  await ipc("settings_update", { patch: { paused: true } });
  const dir = await (await visible("[data-testid='data-dir']")).text();
  assert.equal(dir, dataDir);

  await click(".data-panel button", "Reset demo data…");
  const dialog = await s.waitFor("[role='dialog']");
  assert.match(await dialog.text(), /Reset demo data\?/);
  await s.screenshot("settings-demo-confirm");
  await click("[role='dialog'] button", "Reset demo data");
  await s.waitForText(".data-result", "Demo data ready: 4 agents, 1 crew and 5 tasks.");
  assert.equal((await ipc("agents_list")).total, 4);

  const exportPath = await until("the suggested export file", async () => {
    const v = await value(".data-panel input[name='export_path']");
    return v ? v : null;
  });
  assert.ok(exportPath.startsWith(join(dataDir, "exports")), exportPath);
  await click(".data-panel button", "Export");
  await s.waitForText(".data-result", "Exported");
  assert.ok(existsSync(exportPath), `${exportPath} was written`);
  const doc = JSON.parse(readFileSync(exportPath, "utf8"));
  assert.equal(doc.format, "ensemble.data");
  assert.equal(doc.version, 1);
  assert.equal(doc.tables.agents.length, 4);
  assert.equal(doc.tables.tasks.length, 5);
  await s.screenshot("settings-exported");
});
