// End-to-end: chat on the real embedded model (Gemma 3 270M) in the real app.
// No Ollama runs here, so the app falls back to the embedded engine. Sends a
// message, watches the streamed text grow in the window, presses Stop, and
// sees the answer kept and marked stopped — in the window and in the store.
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

const STORY =
  "Tell me a long story. Once upon a time there was a dragon who lived in a cave above a small village. " +
  "Every morning the dragon flew over the fields, and every evening it came back hungry. One day the dragon " +
  "decided to learn how to cook soup, so it visited the village cook and asked for lessons. The cook was afraid " +
  "at first, but the dragon was polite and patient. Together they chopped carrots, onions and potatoes, and the " +
  "dragon used its fire to heat the pot. What happened next?";

const streamingText = async () => {
  const els = await s.findAll("[data-status='streaming'] .markdown");
  return els.length ? await els[0].text() : null;
};

test("chat streams from the embedded model, stop keeps the partial answer", async () => {
  await (await s.waitFor("nav .nav-item[data-view='chat']")).click();
  const box = await s.waitFor("textarea[aria-label='Message']");
  // A small base model sometimes ends its answer after a sentence, and in a
  // conversation it copies its own earlier short answers; so each round (up
  // to 8) is a new conversation, and the prompt is a long story opening,
  // which this model continues for hundreds of characters most of the time.
  let early = "";
  let later = "";
  for (let round = 0; round < 8 && later.length <= early.length + 10; round++) {
    await (await s.waitFor("[data-testid='new-chat']")).click();
    await box.type(STORY);
    await (await s.waitFor("[data-testid='send']")).click();
    // The answer appears and grows while it streams.
    const first = await s.waitFor("[data-status='streaming'] .markdown", {
      timeout: 60000,
      pred: async (el) => (await el.text()).trim().length >= 10,
    }).catch(() => null);
    if (!first) {
      await s.waitFor("[data-testid='send']", { timeout: 60000 });
      continue;
    }
    early = await first.text().catch(() => "");
    later = early;
    for (let i = 0; i < 60 && later.length <= early.length + 10; i++) {
      await sleep(200);
      const now = await streamingText();
      if (now === null) break;
      later = now;
    }
    if (later.length <= early.length + 10) await s.waitFor("[data-testid='send']", { timeout: 60000 });
  }
  assert.ok(later.length > early.length + 10, `the text grew: ${early.length} → ${later.length} characters`);
  await s.screenshot("chat-streaming");

  await (await s.find("[data-testid='stop']")).click();
  const stopped = await s.waitFor("[data-status='stopped']", { timeout: 15000 });
  assert.match(await stopped.text(), /stopped/);
  await (await s.waitFor("[data-testid='send']")).attr("data-testid");
  await s.screenshot("chat-stopped");

  // The store agrees: the answer is kept with status `stopped` and its partial text.
  // Each round was its own conversation; the stopped answer ends the last one.
  const sessions = await s.invoke("chat_sessions_list", {});
  assert.ok(sessions.ok, JSON.stringify(sessions));
  let last = null;
  for (const session of sessions.ok.items) {
    const msgs = await s.invoke("chat_messages_list", { sessionId: session.id });
    assert.ok(msgs.ok, JSON.stringify(msgs));
    const rows = msgs.ok.items;
    assert.equal(rows.length, 2, JSON.stringify(rows.map((m) => m.role)));
    assert.deepEqual(rows.map((m) => m.role), ["user", "assistant"]);
    if (rows[1].status === "stopped") last = rows[1];
  }
  assert.ok(last, "an answer is stored as stopped");
  assert.ok(last.content.length >= early.length, `kept ${last.content.length} characters`);
  assert.equal(last.metadata.provider, "embedded");
});
