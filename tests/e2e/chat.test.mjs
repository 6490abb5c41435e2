// End-to-end: chat on the real embedded model (Gemma 3 270M) in the real app.
// No Ollama runs here, so the app falls back to the embedded engine. Sends a
// message, watches the streamed text grow in the window, presses Stop, and
// sees the answer kept and marked stopped — in the window and in the store.
// Then a short factual question gets a short answer, not a continuation.
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
  // One round: the prompt frame makes the base model answer the request (a
  // long story) instead of copying or stopping after a line.
  await (await s.waitFor("[data-testid='new-chat']")).click();
  await box.type(STORY);
  await (await s.waitFor("[data-testid='send']")).click();
  // The answer appears and grows while it streams.
  const first = await s.waitFor("[data-status='streaming'] .markdown", {
    timeout: 60000,
    pred: async (el) => (await el.text()).trim().length >= 10,
  });
  const early = await first.text();
  let later = early;
  for (let i = 0; i < 100 && later.length <= early.length + 10; i++) {
    await sleep(100);
    const now = await streamingText();
    if (now === null) break;
    later = now;
  }
  assert.ok(later.length > early.length + 10, `the text grew: ${early.length} → ${later.length} characters`);
  await s.screenshot("chat-streaming");

  await (await s.find("[data-testid='stop']")).click();
  const stopped = await s.waitFor("[data-status='stopped']", { timeout: 15000 });
  assert.match(await stopped.text(), /stopped/);
  await (await s.waitFor("[data-testid='send']")).attr("data-testid");
  await s.screenshot("chat-stopped");

  // The store agrees: the answer is kept with status `stopped` and its partial text.
  const sessions = await s.invoke("chat_sessions_list", {});
  assert.ok(sessions.ok, JSON.stringify(sessions));
  assert.equal(sessions.ok.items.length, 1, "one conversation, one round");
  const msgs = await s.invoke("chat_messages_list", { sessionId: sessions.ok.items[0].id });
  assert.ok(msgs.ok, JSON.stringify(msgs));
  const rows = msgs.ok.items;
  assert.deepEqual(rows.map((m) => m.role), ["user", "assistant"]);
  const last = rows[1];
  assert.equal(last.status, "stopped");
  assert.ok(last.content.length >= early.length, `kept ${last.content.length} characters`);
  assert.equal(last.metadata.provider, "embedded");
});

test("a short factual question gets a short on-topic answer", async () => {
  await (await s.waitFor("[data-testid='new-chat']")).click();
  const box = await s.waitFor("textarea[aria-label='Message']");
  await box.type("What is the capital of France?");
  await (await s.waitFor("[data-testid='send']")).click();
  const done = await s.waitFor("[data-status='complete'] .markdown", { timeout: 60000 });
  const answer = (await done.text()).trim();
  assert.match(answer, /paris/i, `answer: ${JSON.stringify(answer)}`);
  assert.ok(answer.length < 80 && !answer.endsWith("?"), `short, and not a question: ${JSON.stringify(answer)}`);
  await s.screenshot("chat-answer");
});
