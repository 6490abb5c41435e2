// End-to-end: a crew on the real app with the real embedded model (Gemma 3
// 270M through llama.cpp; no Ollama). The test creates a crew from the
// sequential "Research, write, review" template by clicking through the
// template chooser, trims it to two members in the editor (the model is
// slow: every member is a full agent run), runs it with a short request,
// watches the message timeline fill live, and reads the report and each
// member's contribution when the run finishes. Screenshots in target/e2e/.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { Session, appBinary, dataDirWithModel, shutdown, startDriver, until } from "./webdriver.mjs";

const dataDir = dataDirWithModel("ensemble-e2e-crews-");
let driver;
let s;

before(async () => {
  driver = await startDriver({
    ENSEMBLE_DATA_DIR: dataDir,
    // Nothing answers here: the members run on the embedded engine.
    OLLAMA_HOST: "127.0.0.1:9",
    ENSEMBLE_NO_KEYRING: "1",
  });
  s = await Session.create(driver.url, appBinary());
});

after(() => shutdown({ session: s, driver, dataDir }));

async function ipc(cmd, args = {}) {
  const r = await s.invoke(cmd, args);
  assert.ok(!r.err, `${cmd}: ${JSON.stringify(r.err)}`);
  return r.ok;
}

const count = (css) => s.exec(`return document.querySelectorAll(${JSON.stringify(css)}).length;`);

test("a crew from a template runs on the embedded model; the timeline fills live and the report arrives", async () => {
  await s.waitFor("nav .nav-item[data-view='crews']");
  await until("the app to run the queue", async () => (await ipc("orchestrator_status")).runner === "here");

  // The empty list, then the template chooser.
  await (await s.find("nav .nav-item[data-view='crews']")).click();
  await s.waitForText(".crews-view .state.empty", "No crews yet");
  await (await s.find("[data-testid='new-crew']")).click();
  await (await s.waitFor(".crew-template[data-template='research_write_review']")).click();
  assert.equal(await count(".crew-template"), 5, "the five built-in crew templates");
  await (await s.find("input[name='template-crew-name']")).type("Bakery crew");
  await s.screenshot("crews-template");
  await (await s.find("[data-testid='create-from-template']")).click();

  // The new crew, selected, with its chart: three members, three relationships.
  await s.waitForText(".crew-panel .panel-head h2", "Bakery crew");
  assert.equal(await count(".crew-chart .crew-node"), 3);
  assert.equal(await count(".crew-chart .crew-edge"), 3);
  const labels = await s.exec("return [...document.querySelectorAll('.crew-chart .crew-edge text')].map((t) => t.textContent);");
  assert.deepEqual(labels.sort(), ["delegates to", "supervises", "supervises"]);
  await s.screenshot("crews-created");
  const [crew] = (await ipc("crews_list")).items;
  assert.equal(crew.name, "Bakery crew");
  assert.equal(crew.process, "sequential");
  assert.deepEqual(crew.members.map((m) => m.agent_name), ["Researcher", "Writer", "Reviewer"]);

  // The 270M model is slow and tool calls would only add turns: each member
  // answers from what it is given, greedily (the same run each time), in at
  // most three steps. What is tested here is the crew, not the tools.
  for (const m of crew.members) {
    await ipc("agents_update", { id: m.agent_id, input: { allowed_tools: [], temperature: 0, max_steps: 3 } });
  }

  // Two members keep the run short: the editor drops the reviewer.
  await (await s.find("[data-testid='edit-crew']")).click();
  await (await s.waitFor("button[aria-label='Remove Reviewer']")).click();
  await (await s.find("[data-testid='save-crew']")).click();
  await until("the chart to show two members", async () => (await count(".crew-chart .crew-node")) === 2);
  await until("the dialog to close", async () => (await count("[role='dialog']")) === 0);
  const edited = await ipc("crews_get", { id: crew.id });
  assert.deepEqual(edited.members.map((m) => m.agent_name), ["Researcher", "Writer"]);
  await s.screenshot("crews-edited");

  // Run it.
  await (await s.find("textarea[name='crew-input']")).type("Name a bakery in Lisbon in one line.");
  await (await s.find("[data-testid='run-crew']")).click();
  const run = await until("the run to be recorded", async () => (await ipc("crews_runs_list", { crewId: crew.id })).items[0]);
  assert.equal(run.input, "Name a bakery in Lisbon in one line.");
  // While it runs, the Run button is a Stop button.
  await s.waitFor("[data-testid='stop-run']", { timeout: 30000 });

  // The timeline fills live: the first message without reloading anything.
  await s.waitFor(".crew-timeline li.crew-msg", { timeout: 120000 });
  const first = await (await s.find(".crew-timeline li.crew-msg")).text();
  assert.match(first, /→/);
  await s.screenshot("crews-timeline");

  // Generous: each member's turn on the embedded model takes 10-120 s on a busy 2-core machine.
  const t0 = Date.now();
  let seen = 0;
  const done = await until(
    "the run to finish",
    async () => {
      seen = Math.max(seen, await count(".crew-timeline li.crew-msg"));
      const r = await ipc("crews_run_get", { id: run.id });
      return ["completed", "failed", "stopped"].includes(r.status) ? r : null;
    },
    600000,
  );
  console.log(`the run took ${Math.round((Date.now() - t0) / 1000)} s after the first message`);
  assert.equal(done.status, "completed", `the run ended ${done.status}: ${done.error}`);

  // The whole timeline, oldest first, newest at the bottom, as stored.
  const msgs = (await ipc("crews_run_messages", { id: run.id })).items;
  await until("every message in the timeline", async () => (await count(".crew-timeline li.crew-msg")) === msgs.length);
  const shown = await s.exec(
    "return [...document.querySelectorAll('.crew-timeline li.crew-msg')].map((li) => [li.dataset.messageId, li.dataset.kind]);",
  );
  assert.deepEqual(shown, msgs.map((m) => [m.id, m.kind]));
  assert.ok(msgs.some((m) => m.kind === "handoff"), "the researcher handed over to the writer");
  const handoff = await (await s.find(".crew-timeline li.crew-msg[data-kind='handoff']")).text();
  assert.match(handoff, /Researcher\s*→\s*Writer/);
  assert.ok(seen >= 1);

  // The report (the writer's output) and both members' contributions.
  const report = await s.waitFor("[data-testid='crew-report']", { timeout: 15000 });
  assert.equal((await report.text()).trim(), (done.report ?? "").trim());
  assert.ok((done.report ?? "").trim().length > 0, "the run has a report");
  assert.equal(await count(".crew-contribution"), 2);
  const contributions = await s.exec("return [...document.querySelectorAll('.crew-contribution summary strong')].map((e) => e.textContent);");
  assert.deepEqual(contributions, ["Researcher", "Writer"]);
  await s.waitFor("[data-testid='run-crew']");
  assert.equal(await count("[data-testid='stop-run']"), 0);
  await s.exec("document.querySelector('[data-testid=\"crew-report\"]').scrollIntoView({ block: 'center' });");
  await s.screenshot("crews-report");
});
