// End-to-end: the app runs the task queue itself, on the real embedded model
// (Gemma 3 270M; no Ollama here). Creates an agent and a task through IPC,
// watches the card move across the board live (no reload: store events),
// to the completed column with a sensible output, then opens the drawer and
// sees the run trace with at least one step.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { Session, appBinary, dataDirWithModel, shutdown, startDriver } from "./webdriver.mjs";

const dataDir = dataDirWithModel();
let driver;
let s;

before(async () => {
  driver = await startDriver({ ENSEMBLE_DATA_DIR: dataDir });
  s = await Session.create(driver.url, appBinary());
});

after(() => shutdown({ session: s, driver, dataDir }));

const FINAL = ["completed", "failed"];

test("a task moves across the board live and its drawer shows the run trace", async () => {
  await (await s.waitFor("nav .nav-item[data-view='tasks']")).click();
  // This app holds the runner lock: it runs the queue.
  await s.waitFor("[data-testid='runner-status'][data-runner='here']");

  const agent = await s.invoke("agents_create", {
    input: { name: "Wren", role: "writer", capabilities: ["writing"], autonomy: "autopilot", max_steps: 2 },
  });
  assert.ok(agent.ok, JSON.stringify(agent));
  const created = await s.invoke("tasks_create", {
    input: { title: "Write a haiku about the sea", required_capabilities: ["writing"], max_attempts: 1 },
  });
  assert.ok(created.ok, JSON.stringify(created));
  const id = created.ok.id;

  // Where the card is now, as the page shows it.
  const column = () =>
    s.exec(
      "const c = document.querySelector(`.card[data-task-id='${arguments[0]}']`); return c ? c.closest('[data-column]').dataset.column : null;",
      [id],
    );
  const seen = [];
  let shotWhileRunning = false;
  const end = Date.now() + 75000;
  let where = null;
  while (Date.now() < end) {
    where = await column();
    if (where && seen[seen.length - 1] !== where) seen.push(where);
    if (where === "running" && !shotWhileRunning) {
      shotWhileRunning = true;
      await s.screenshot("board-running");
    }
    if (FINAL.includes(where)) break;
    await sleep(100);
  }
  assert.ok(FINAL.includes(where), `the card reached a final column; it went through ${seen.join(" → ")}`);
  assert.equal(where, "completed", `the task completed on the embedded model (it went through ${seen.join(" → ")})`);
  assert.ok(seen.length >= 2, `the card moved while the page watched: ${seen.join(" → ")}`);
  assert.ok(seen.includes("running") || seen.includes("planning"), `seen running: ${seen.join(" → ")}`);
  const card = await s.find(`.card[data-task-id='${id}']`);
  assert.match(await card.text(), /attempt 1\/1/);
  await s.screenshot("board-final");

  // The drawer: the run, step by step.
  await card.click();
  const step = await s.waitFor(".drawer .run .step", { timeout: 15000 });
  assert.match(await step.text(), /Step 1/);
  const summary = await (await s.find(".drawer .run summary")).text();
  assert.match(summary, /Attempt 1/);
  assert.match(summary, /embedded/);
  await s.screenshot("task-trace");

  // The store agrees with the page.
  const runs = await s.invoke("tasks_runs", { id });
  assert.ok(runs.ok, JSON.stringify(runs));
  assert.equal(runs.ok.length, 1);
  assert.ok(runs.ok[0].steps.length >= 1, "at least one step recorded");
  const task = await s.invoke("tasks_get", { id });
  const out = (task.ok.output ?? "").trim();
  assert.ok(out.split(/\s+/).length >= 3 && !/[<>]|don't know|capital of France/i.test(out), `a sensible output: ${JSON.stringify(out)}`);
  const status = await s.invoke("orchestrator_status");
  assert.equal(status.ok.runner, "here");
});

test("the Workflows tab starts a run and draws it as a graph", async () => {
  // Hold the queue: this test looks at the graph, not at the model.
  assert.ok((await s.invoke("settings_update", { patch: { paused: true } })).ok);
  await s.waitFor("[data-testid='runner-status'][data-paused='true']");
  const wf = await s.invoke("workflows_create", {
    input: {
      name: "Sea brief",
      definition: {
        steps: [
          { key: "research", title: "Research", prompt: "Facts about {{input}}", capabilities: ["writing"] },
          { key: "outline", title: "Outline", prompt: "Outline {{research.output}}", depends_on: ["research"] },
          { key: "poem", title: "Poem", prompt: "A haiku about {{input}}", capabilities: ["writing"] },
          { key: "write", title: "Write", prompt: "Combine {{outline.output}} and {{poem.output}}", depends_on: ["outline", "poem"] },
        ],
      },
    },
  });
  assert.ok(wf.ok, JSON.stringify(wf));
  const close = await s.findAll(".drawer-close");
  if (close.length) await close[0].click();
  await (await s.waitFor("[role='tab'][data-tab='workflows']")).click();
  await s.waitForText(".wf-item", "Sea brief");
  await (await s.waitFor("textarea[aria-label='Workflow input']")).type("the sea");
  await (await s.find("[data-testid='start-run']")).click();
  // The ready steps became tasks at once; the rest wait for them.
  await s.waitFor("svg[aria-label='Workflow run graph'] [data-step='research'][data-status='running']");
  await s.waitFor("svg[aria-label='Workflow run graph'] [data-step='poem'][data-status='running']");
  await s.waitFor("svg[aria-label='Workflow run graph'] [data-step='write'][data-status='pending']");
  assert.equal((await s.findAll("svg[aria-label='Workflow run graph'] .dag-edge")).length, 3);
  await s.screenshot("workflow-dag");
});
