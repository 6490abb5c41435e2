// End-to-end: Settings → Models on the real app (debug build) under Xvfb,
// with the embedded model in the data folder and no Ollama. The embedded
// model is listed as not probed; "Probe" runs the capability probe on the
// real model (a JSON-schema answer and a streamed answer: the engine has no
// native tool calls) and the row shows the stored verdict "tools: guided
// steps (base model)" — the default model has no chat template — with what
// was measured; the verdict is in the models list over
// IPC too. Screenshot in target/e2e/models-probed.png.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { Session, appBinary, dataDirWithModel, shutdown, startDriver, until } from "./webdriver.mjs";

const dataDir = dataDirWithModel("ensemble-e2e-models-");
const env = { ENSEMBLE_DATA_DIR: dataDir, OLLAMA_HOST: "127.0.0.1:9", ENSEMBLE_NO_KEYRING: "1" };
let driver;
let s;

before(async () => {
  driver = await startDriver(env);
  s = await Session.create(driver.url, appBinary());
});

after(() => shutdown({ session: s, driver, dataDir }));

const ROW = "table[aria-label='Models'] tr[data-model='embedded/gemma-3-270m-q4_k_m.gguf']";
const SCROLL = "const el = document.querySelector(arguments[0]); if (el) el.scrollIntoView({ block: 'center' }); return !!el;";

test("probing the embedded model stores its verdict and the Models panel shows it", async () => {
  await (await s.waitFor("nav .nav-item[data-view='settings']")).click();
  const row = await s.waitFor(ROW, { timeout: 30000 });
  await until("the models row in view", () => s.exec(SCROLL, [ROW]), 10000);
  assert.match(await row.text(), /not probed/);

  await (await s.waitFor(`${ROW} button[aria-label='Probe gemma-3-270m-q4_k_m.gguf']`)).click();
  // Two short generations on the real model.
  const verdict = await s.waitForText(`${ROW} .badge`, "tools: guided steps (base model)", { timeout: 180000 });
  assert.equal(await verdict.text(), "tools: guided steps (base model)");
  const measured = await row.text();
  assert.match(measured, /JSON ok/, measured);
  assert.match(measured, /tok\/s/, measured);
  assert.match(measured, /4096 ctx/, measured);
  const cases = await s.waitFor("ul[aria-label='Probe cases of gemma-3-270m-q4_k_m.gguf']");
  assert.match(await cases.text(), /JSON schema/);
  await s.screenshot("models-probed");

  const r = await s.invoke("models_list");
  assert.ok(!r.err, JSON.stringify(r.err));
  const entry = r.ok.models.find((m) => m.provider === "embedded" && m.model.name === "gemma-3-270m-q4_k_m.gguf");
  assert.equal(entry?.profile?.tools, "guided");
  assert.equal(entry?.profile?.source, "probe");
});
