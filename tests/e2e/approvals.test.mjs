// End-to-end: the approval inbox on the real app, with the real embedded
// model (Gemma 3 270M through llama.cpp; no Ollama, no fixture server — the
// same task tests/agent_real_model.rs gives it). A copilot agent gets a task
// that needs code_run; its tool call waits in the inbox (the sidebar badge
// and the tray's pending count go to 1), the test approves it by clicking,
// the sandboxed program runs, the task completes (the pending count back to
// 0) and the drawer shows the program's output and the task's answer; the
// History tab lists the decision. The agent samples greedily (temperature 0)
// so the run is the same each time. Screenshots in target/e2e/.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { Session, appBinary, dataDirWithModel, isStale, shutdown, startDriver, until } from "./webdriver.mjs";

const dataDir = dataDirWithModel("ensemble-e2e-approvals-");
let driver;
let s;

before(async () => {
  driver = await startDriver({
    ENSEMBLE_DATA_DIR: dataDir,
    // Nothing answers here: the agent runs on the embedded engine.
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

const badge = () =>
  s.exec("const b = document.querySelector(\"nav .nav-item[data-view='approvals'] .count\"); return b ? b.textContent : null;");

test("a copilot agent's code_run waits in the inbox, is approved by a click, and the task completes", async () => {
  await s.waitFor("nav .nav-item[data-view='approvals']");
  // This app holds the runner lock: it runs the queue.
  await until("the app to run the queue", async () => (await ipc("orchestrator_status")).runner === "here");
  const tray0 = await ipc("tray_status");
  assert.equal(tray0?.pending ?? 0, 0, JSON.stringify(tray0));

  const agent = await ipc("agents_create", {
    input: {
      name: "Calc",
      role: "calculator",
      system_prompt:
        "You solve arithmetic by writing a Python program with the code_run tool, then answer with its output.",
      capabilities: ["math", "code_run"],
      allowed_tools: ["code_run"],
      provider: "embedded",
      autonomy: "copilot",
      temperature: 0,
      max_steps: 6,
    },
  });
  const task = await ipc("tasks_create", {
    input: {
      title: "Sum of 1 to 100",
      objective:
        "Use code_run to run the Python program print(sum(range(1, 101))), then give the printed number as the answer.",
      required_capabilities: ["math", "code_run"],
      max_attempts: 1,
    },
  });

  await (await s.find("nav .nav-item[data-view='approvals']")).click();
  let approved = 0;
  let done;
  // Generous: each step on the embedded model takes 10-60 s on a busy 2-core machine.
  const end = Date.now() + 480000;
  // The model may want more than one call; each waits for a click.
  while (Date.now() < end) {
    done = await ipc("tasks_get", { id: task.id });
    if (["completed", "failed", "cancelled"].includes(done.status)) break;
    let text;
    try {
      const cards = await s.findAll(".approval[data-kind='tool_call']");
      text = cards.length ? await cards[0].text() : null;
    } catch (e) {
      if (!isStale(e)) throw e;
      text = null; // the inbox re-rendered under us: look again
    }
    if (text === null) {
      await sleep(250);
      continue;
    }
    assert.match(text, /Calc wants to run code_run/);
    assert.match(text, /Agent Calc/);
    assert.match(text, /Sum of 1 to 100/);
    assert.match(text, /expires in \d\d:\d\d:\d\d|expires in 1 d/);
    assert.match(text, /Tool\s*code_run/);

    // Pending everywhere a person would look: the sidebar badge and the tray.
    assert.equal(await until("the sidebar badge", badge), "1");
    const tray = await until("the tray's pending count", async () => {
      const t = await ipc("tray_status");
      return t && t.pending === 1 ? t : null;
    });
    assert.equal(tray.approvals_label, "Approvals (1 pending)");
    const pending = await ipc("approvals_list", { status: "pending" });
    assert.equal(pending.total, 1);
    const request = pending.items[0];
    assert.equal(request.agent_id, agent.id);
    assert.equal(request.task_id, task.id);
    assert.equal(request.proposed_action.tool, "code_run");
    // The proposed call, readably: each argument by name, the program as
    // the code it is (not an escaped JSON string).
    const sel = `.approval[data-approval-id='${request.id}']`;
    const names = await Promise.all((await s.findAll(`${sel} .args dt`)).map((e) => e.text()));
    assert.ok(names.includes("code"), JSON.stringify(names));
    const code = (await s.findAll(`${sel} .args pre.arg-value`))[names.indexOf("code")];
    assert.equal((await code.text()).trim(), request.proposed_action.arguments.code.trim());
    // The countdown runs.
    const timer = await s.find(`.approval[data-approval-id='${request.id}'] [role='timer']`);
    const t1 = await timer.text();
    await sleep(1300);
    assert.notEqual(await timer.text(), t1, "the expiry countdown ticks");
    if (approved === 0) await s.screenshot("approval-pending");

    await (await s.find(`.approval[data-approval-id='${request.id}'] [data-action='approve']`)).click();
    approved++;
    await until("the card to leave the inbox", async () =>
      (await s.findAll(`.approval[data-approval-id='${request.id}']`)).length === 0 ? true : null,
    );
    const decided = await ipc("approvals_history");
    assert.equal(decided.items[0].id, request.id);
    assert.equal(decided.items[0].status, "approved");
  }
  assert.ok(approved >= 1, "the agent asked to run code_run at least once");
  assert.equal(done.status, "completed", `task ended ${done.status}: ${done.error}`);

  // Nothing pending any more: the badge is gone and the tray says so.
  await until("the tray to show no pending approval", async () => (await ipc("tray_status"))?.pending === 0);
  assert.equal(await until("the badge to go", async () => ((await badge()) === null ? "gone" : null)), "gone");
  assert.equal((await ipc("tray_status")).approvals_label, "Approvals (none pending)");

  // The run, in the store: code_run ran after the approval and printed 5050.
  const runs = await ipc("tasks_runs", { id: task.id });
  const calls = runs.flatMap((r) => r.tool_calls).filter((c) => c.tool === "code_run");
  assert.ok(calls.some((c) => c.state === "succeeded"), JSON.stringify(calls));
  const observations = runs.flatMap((r) => r.steps).map((st) => st.observation ?? "");
  assert.ok(observations.some((o) => o.includes("5050")), JSON.stringify(observations));

  // The History tab shows the decision.
  await (await s.find("[role='tab'][data-tab='history']")).click();
  const row = await s.waitFor("table[aria-label='Approval history'] tbody tr");
  assert.match(await row.text(), /Calc wants to run code_run/);
  assert.match(await row.text(), /approved/);
  assert.match(await row.text(), /human/);
  await s.screenshot("approval-history");

  // The task drawer: its output, and the program's output in the trace.
  await (await s.find("nav .nav-item[data-view='tasks']")).click();
  await (await s.waitFor(`.card[data-task-id='${task.id}']`)).click();
  const output = await s.waitFor(".drawer .output pre");
  assert.equal((await output.text()).trim(), (done.output ?? "").trim());
  assert.ok((done.output ?? "").trim().length > 0, "the task has an answer");
  await s.waitForText(".drawer .observation", "5050");
  await s.screenshot("approval-task-output");
});
