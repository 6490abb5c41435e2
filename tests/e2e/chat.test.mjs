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

const streamingText = async () => {
  const els = await s.findAll("[data-status='streaming'] .markdown");
  return els.length ? await els[0].text() : null;
};

test("chat streams from the embedded model, stop keeps the partial answer", async () => {
  await (await s.waitFor("nav .nav-item[data-view='chat']")).click();
  const box = await s.waitFor("textarea[aria-label='Message']");
  // A small base model sometimes ends its answer after a sentence; then ask
  // again (each round is a new message, up to 8) until one streams long enough
  // to stop; on a quiet machine several short answers in a row happen.
  let early = "";
  let later = "";
  for (let round = 0; round < 8 && later.length <= early.length + 10; round++) {
    await box.type("Write a long story about a dragon who learns to cook soup. Make it at least ten paragraphs.");
    await (await s.waitFor("[data-testid='send']")).click();
    // The answer appears and grows while it streams.
    const first = await s.waitFor("[data-status='streaming'] .markdown", {
      timeout: 60000,
      pred: async (el) => (await el.text()).trim().length >= 10,
    }).catch(() => null);
    if (!first) continue;
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
  const sessions = await s.invoke("chat_sessions_list", {});
  assert.ok(sessions.ok, JSON.stringify(sessions));
  assert.equal(sessions.ok.items.length, 1);
  const msgs = await s.invoke("chat_messages_list", { sessionId: sessions.ok.items[0].id });
  const rows = msgs.ok.items;
  assert.equal(rows.length % 2, 0);
  assert.ok(rows.every((m, i) => m.role === (i % 2 ? "assistant" : "user")), JSON.stringify(rows.map((m) => m.role)));
  const last = rows[rows.length - 1];
  assert.equal(last.status, "stopped");
  assert.ok(last.content.length >= early.length, `kept ${last.content.length} characters`);
  assert.equal(last.metadata.provider, "embedded");
});
