// End-to-end: the real app (debug build) under Xvfb, driven through
// tauri-driver and WebKitWebDriver. Creates an agent in the UI, sees it in
// the list, then finds it with the CLI on the same data folder.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Session, appBinary, shutdown, startDriver } from "./webdriver.mjs";

const dataDir = mkdtempSync(join(tmpdir(), "ensemble-e2e-"));
let driver;
let s;

before(async () => {
  driver = await startDriver({ ENSEMBLE_DATA_DIR: dataDir });
  s = await Session.create(driver.url, appBinary());
});

after(() => shutdown({ session: s, driver, dataDir }));

test("create an agent in the UI and find it with the CLI", async () => {
  await s.waitFor("nav .nav-item[data-view='agents']");
  await (await s.find("nav .nav-item[data-view='agents']")).click();
  await (await s.waitFor("[data-testid='new-agent']")).click();

  const template = await s.waitFor("select[name='template'] option[value='analyst']");
  await template.click();
  const name = await s.find("input[name='name']");
  await name.clear();
  await name.type("Ada Lovelace");
  await (await s.find("input[name='capabilities']")).clear();
  await (await s.find("input[name='capabilities']")).type("sql_query, data_analysis, forecasting");
  await (await s.find("[data-testid='save-agent']")).click();

  const row = await s.waitForText("table[aria-label='Agents'] tbody tr", "Ada Lovelace");
  assert.match(await row.text(), /analyst/);
  await s.screenshot("agents-created");

  const out = execFileSync(appBinary(), ["agents", "list", "--json", "--data-dir", dataDir], { encoding: "utf8" });
  const agents = JSON.parse(out);
  const ada = agents.find((a) => a.name === "Ada Lovelace");
  assert.ok(ada, `CLI lists the agent: ${out}`);
  assert.deepEqual(ada.capabilities, ["sql_query", "data_analysis", "forecasting"]);
  assert.equal(ada.template, "analyst");
});

test("a task added from the CLI appears on the board, and priority edits persist", async () => {
  // The app runs the queue: hold it (pause all), so the task stays editable.
  const paused = await s.invoke("settings_update", { patch: { paused: true } });
  assert.ok(paused.ok, JSON.stringify(paused));
  const out = execFileSync(
    appBinary(),
    ["tasks", "add", "Summarise Q3 sales", "--priority", "6", "--capabilities", "data_analysis", "--json", "--data-dir", dataDir],
    { encoding: "utf8" },
  );
  const task = JSON.parse(out);
  await (await s.find("nav .nav-item[data-view='tasks']")).click();
  // The app notices the CLI's write (another process) and refreshes the board.
  const card = await s.waitFor(`.card[data-task-id='${task.id}']`);
  await card.click();
  const prio = await s.waitFor("input[aria-label='Priority']");
  await prio.clear();
  await prio.type("9");
  const save = await s.waitForText(".drawer-actions button", "Save priority");
  await save.click();
  await s.waitForText(".drawer .badge", "priority 9");
  await s.screenshot("task-drawer");
  const shown = JSON.parse(execFileSync(appBinary(), ["tasks", "show", task.id, "--json", "--data-dir", dataDir], { encoding: "utf8" }));
  assert.equal(shown.priority, 9);
});

test("the tray menu shows the pending approval count", async () => {
  const status = await s.invoke("tray_status");
  assert.ok(status.ok, JSON.stringify(status));
  assert.equal(status.ok.pending, 0);
  assert.match(status.ok.approvals_label, /none pending/);
});
