// Takes the README's screenshots from the real app (debug build) with the
// demo data and a real chat answer from the embedded model. Run through
// `make screenshots` (it starts a private Xvfb display); writes docs/screenshots/.
import { mkdirSync, renameSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Session, appBinary, dataDirWithModel, shutdown, startDriver, until } from "../tests/e2e/webdriver.mjs";

const OUT = join(import.meta.dirname, "..", "docs", "screenshots");
const dataDir = dataDirWithModel("ensemble-shots-");
const driver = await startDriver({ ENSEMBLE_DATA_DIR: dataDir });
const s = await Session.create(driver.url, appBinary());

const shot = async (name) => {
  const path = await s.screenshot(`readme-${name}`);
  mkdirSync(OUT, { recursive: true });
  renameSync(path, join(OUT, `${name}.png`));
  console.log(`docs/screenshots/${name}.png`);
};
const nav = async (view) => {
  await (await s.waitFor(`nav .nav-item[data-view='${view}']`)).click();
  await s.waitFor(`nav .nav-item[data-view='${view}'][aria-current='page']`);
  await sleep(600);
};
const ok = (r, what) => {
  if (!r.ok && r.ok !== null) throw new Error(`${what}: ${JSON.stringify(r)}`);
  return r.ok;
};

try {
  // A fresh install opens on the guided start.
  await s.waitFor("[data-testid='model-summary']", { timeout: 30000 });
  await shot("first-run");

  // The demo data: a crew with three agents, an analyst, tasks in several columns.
  ok(await s.invoke("data_reset_demo"), "demo data");
  ok(await s.invoke("settings_update", { patch: { first_run_completed: true } }), "settings");
  await nav("tasks");
  await nav("home");
  await shot("home");

  await nav("tasks");
  await s.waitFor(".card[data-task-id]");
  await shot("tasks");

  await nav("crews");
  await sleep(800);
  await (await s.waitFor("button[data-crew-id]")).click();
  await sleep(800);
  await shot("crews");

  await nav("agents");
  await s.waitFor("table[aria-label='Agents'] tbody tr");
  await shot("agents");

  // A real answer from the embedded model.
  await nav("chat");
  await (await s.waitFor("textarea[aria-label='Message']")).type("In two sentences: what does a research crew do?");
  await (await s.waitFor("[data-testid='send']")).click();
  await s.waitFor("[data-status='streaming'], [data-status='complete']", { timeout: 60000 });
  await until("the answer to finish", async () => (await s.findAll("[data-status='streaming']")).length === 0, 120000);
  await shot("chat");

  await nav("settings");
  await shot("settings");
} finally {
  await shutdown({ session: s, driver, dataDir });
}
