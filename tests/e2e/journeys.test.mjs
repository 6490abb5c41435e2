// End-to-end journeys on the real app (debug build, Xvfb, tauri-driver), on
// one fresh data folder with the embedded model (Gemma 3 270M; no Ollama
// runs here). In order: the guided start of a fresh install creates a
// starter crew; an agent and a task made in the UI run on the embedded model
// and the drawer shows the outcome; a command the backend refuses shows its
// readable message and keeps what was typed; the shortcuts overlay opens
// from the keyboard. Screenshots go to target/e2e/.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { Session, appBinary, dataDirWithModel, shutdown, startDriver, until } from "./webdriver.mjs";

const dataDir = dataDirWithModel();
let driver;
let s;

before(async () => {
  driver = await startDriver({ ENSEMBLE_DATA_DIR: dataDir });
  s = await Session.create(driver.url, appBinary());
});

after(() => shutdown({ session: s, driver, dataDir }));

const nav = async (view) => {
  await (await s.waitFor(`nav .nav-item[data-view='${view}']`)).click();
  await s.waitFor(`nav .nav-item[data-view='${view}'][aria-current='page']`);
};

test("first run: the guided start says which model answers and creates a starter crew", async () => {
  const guide = await s.waitFor("[data-testid='guided-start']", { timeout: 30000 });
  // No Ollama on this machine: the guide says the built-in engine answers.
  const summary = await s.waitFor("[data-testid='model-summary']", { timeout: 30000 });
  assert.match(await summary.text(), /built-in engine/);
  assert.match(await guide.text(), /Where approvals appear/);
  await s.screenshot("first-run-guide");

  await (await s.find("[data-testid='create-starter']")).click();
  const created = await s.waitFor("[data-testid='starter-created']", { timeout: 30000 });
  const m = (await created.text()).match(/Created (.+) with (\d+) agents/);
  assert.ok(m, await created.text());
  const [, crewName, members] = m;
  assert.ok(Number(members) >= 2, `a crew of ${members}`);

  await (await s.find("[data-testid='finish-guide']")).click();
  // Done leads to the new crew, and the guide does not come back.
  await s.waitFor("nav .nav-item[data-view='crews'][aria-current='page']");
  await s.waitForText("main", crewName);
  await s.screenshot("first-run-crew");
  const settings = await s.invoke("settings_get");
  assert.equal(settings.ok.first_run_completed, true);
  const crews = await s.invoke("crews_list", {});
  assert.deepEqual(crews.ok.items.map((c) => c.name), [crewName]);
  await nav("home");
  await s.waitFor("#home-running");
  assert.equal((await s.findAll("[data-testid='guided-start']")).length, 0);
});

/** An answer a person would accept as an attempt at the task: words, not a placeholder or an excuse. */
function assertSensible(out) {
  assert.ok(out.split(/\s+/).length >= 3, `a few words at least: ${JSON.stringify(out)}`);
  assert.ok(!/[<>]/.test(out), `no placeholder: ${JSON.stringify(out)}`);
  assert.ok(!/don't know|do not know|capital of France/i.test(out), `an answer, not an excuse or the instructions' example: ${JSON.stringify(out)}`);
}

test("an agent and a task made in the UI run on the embedded model; the drawer shows the outcome", async () => {
  await nav("agents");
  await (await s.waitFor("[data-testid='new-agent']")).click();
  // No template and no tools: the agent answers in one or two steps, which
  // keeps this journey short on a small CPU-bound model.
  await (await s.waitFor("input[name='name']")).type("Quill");
  await (await s.find("input[name='role']")).type("writer");
  await (await s.find("input[name='capabilities']")).type("writing");
  await (await s.waitForText("label.seg", "Autopilot")).click();
  await s.waitForText("label.seg.active", "Autopilot");
  await (await s.find("[data-testid='save-agent']")).click();
  await s.waitForText("table[aria-label='Agents'] tbody tr", "Quill");

  await nav("tasks");
  await (await s.waitFor("[data-testid='new-task']")).click();
  await (await s.waitFor("input[name='title']")).type("Write a haiku about the sea");
  await (await s.find("textarea[name='objective']")).type("Three short lines about waves.");
  await (await s.waitForText("select[name='agent'] option", "Quill")).click();
  await (await s.waitForText(".modal button[type='submit']", "Add to queue")).click();
  await s.waitFor(".card[data-task-id]");
  const id = await (await s.waitForText(".card[data-task-id]", "Write a haiku")).attr("data-task-id");

  const column = () =>
    s.exec("const c = document.querySelector(`.card[data-task-id='${arguments[0]}']`); return c ? c.closest('[data-column]').dataset.column : null;", [id]);
  const final = await until("the task to finish", async () => {
    const c = await column();
    return c === "completed" || c === "failed" ? c : null;
  }, 300000).catch(async (e) => {
    const t = await s.invoke("tasks_get", { id });
    const runs = await s.invoke("tasks_runs", { id });
    await s.screenshot("journey-task-stuck");
    throw new Error(`${e.message}; the task: ${JSON.stringify(t).slice(0, 1500)}; runs: ${JSON.stringify(runs).slice(0, 3000)}`);
  });
  await (await s.find(`.card[data-task-id='${id}']`)).click();
  await s.waitFor(".drawer .run summary", { timeout: 15000 });
  assert.match(await (await s.find(".drawer .run summary")).text(), /embedded/);
  if (final !== "completed") {
    const t = await s.invoke("tasks_get", { id });
    const runs = await s.invoke("tasks_runs", { id });
    await (await s.find(".drawer-close")).click();
    assert.fail(`the task on the embedded model ended ${final}: ${JSON.stringify(t.ok?.error)}; runs: ${JSON.stringify(runs).slice(0, 4000)}`);
  }
  const out = (await (await s.waitFor(".drawer .output pre")).text()).trim();
  assertSensible(out);
  const task = await s.invoke("tasks_get", { id });
  assert.equal(task.ok.status, final);
  assert.equal(task.ok.routed_agent_id ?? task.ok.assigned_agent_id, (await s.invoke("agents_list", {})).ok.items.find((a) => a.name === "Quill").id);
  console.log(`# the task ended ${final}`);
  await s.screenshot("journey-task-drawer");
  await (await s.find(".drawer-close")).click();
});

test("a command the backend refuses shows its message and keeps what was typed", async () => {
  await nav("tasks");
  await (await s.waitFor("[data-testid='new-task']")).click();
  // Blank after trimming: the browser lets it through, the core refuses it.
  await (await s.waitFor("input[name='title']")).type("   ");
  await (await s.find("textarea[name='objective']")).type("Keep this text");
  await (await s.waitForText(".modal button[type='submit']", "Add to queue")).click();
  const alert = await s.waitFor(".modal [role='alert']");
  assert.match(await alert.text(), /title: must not be empty/);
  assert.equal(await (await s.find("textarea[name='objective']")).prop("value"), "Keep this text");
  await s.screenshot("ipc-error");
  await (await s.find(".modal [aria-label='Close']")).click();
});

test("? opens the keyboard shortcuts overlay", async () => {
  await nav("home");
  await s.cmd("POST", "/actions", {
    actions: [{ type: "key", id: "kb", actions: [{ type: "keyDown", value: "?" }, { type: "keyUp", value: "?" }] }],
  });
  const dialog = await s.waitFor("[role='dialog']");
  assert.match(await dialog.text(), /Keyboard shortcuts/);
  assert.match(await dialog.text(), /Go to Approvals/);
  await s.screenshot("shortcuts");
  await (await s.find("[role='dialog'] [aria-label='Close']")).click();
  await until("the overlay to close", async () => (await s.findAll("[role='dialog']")).length === 0, 5000);
});

test("offline by construction: every resource the window loaded came from the app itself", async () => {
  for (const view of ["home", "crews", "agents", "tasks", "approvals", "chat", "settings"]) {
    await nav(view);
    await sleep(300);
  }
  // Everything the page refers to (scripts, styles, images, fonts) and what
  // the browser reports having fetched.
  const urls = await s.exec(
    "const refs = [...document.querySelectorAll('script[src], link[href], img[src], iframe[src], source[src]')].map((e) => e.src || e.href);" +
      "const sheets = [...document.styleSheets].map((x) => x.href).filter(Boolean);" +
      "const fonts = [...document.styleSheets].flatMap((x) => { try { return [...x.cssRules]; } catch { return []; } })" +
      "  .filter((r) => r.constructor.name === 'CSSFontFaceRule').map((r) => r.style.getPropertyValue('src'));" +
      "return [location.href, ...refs, ...sheets, ...fonts, ...performance.getEntriesByType('resource').map((e) => e.name)];",
  );
  assert.ok(urls.some((u) => u.endsWith(".js")) && urls.some((u) => u.endsWith(".css")), JSON.stringify(urls));
  const foreign = urls.filter((u) => !/^(tauri:\/\/localhost|http:\/\/tauri\.localhost|ipc:\/\/localhost|http:\/\/ipc\.localhost|data:)/.test(u));
  assert.deepEqual(foreign, [], "no request left the app");
  // The content security policy forbids remote content: the browser reports
  // a violation (an offline network error alone would not).
  const blocked = await s.cmd("POST", "/execute/async", {
    script:
      "const done = arguments[0]; document.addEventListener('securitypolicyviolation', (e) => done('csp:' + e.violatedDirective)); const img = new Image(); img.src = 'https://example.com/x.png'; setTimeout(() => done('no violation'), 3000);",
    args: [],
  });
  assert.match(blocked, /^csp:img-src/);
});
