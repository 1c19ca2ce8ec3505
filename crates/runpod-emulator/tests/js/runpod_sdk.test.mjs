// RunPod's own JavaScript SDK (`runpod-sdk` 1.1.2 from npm, unmodified) against
// `podwarden emulator`, under the emulator's rate limits: runSync, run + stream, status, cancel
// and health. Its `stream()` calls `/stream/{id}` in a loop with no delay; the emulator holds a
// call with nothing new until a chunk comes or the job ends (docs/emulator.md, "Jobs"), so the
// loop makes a few calls, not the hundreds a second that would meet `/stream`'s rate limit.
// PODWARDEN_BIN overrides the binary.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import runpodSdk from "runpod-sdk";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");
const bin = process.env.PODWARDEN_BIN || join(root, "target/debug/podwarden");
const KEY = "rpa_JSSDKTEST000000000000000000000001";
let emulator, base, endpoint;

async function rest(method, path, body) {
  const r = await fetch(base + path, {
    method,
    headers: { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json" },
    body: body && JSON.stringify(body),
  });
  const text = await r.text();
  assert.ok(r.ok, `${method} ${path} -> ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

// Every `/stream` call the SDK makes (it fetches through the global `fetch`).
let streamCalls = 0;
const realFetch = globalThis.fetch;
globalThis.fetch = (input, init) => {
  if (String(input?.url ?? input).includes("/stream/")) streamCalls += 1;
  return realFetch(input, init);
};

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), "pw-js-"));
  // A cold start of a few seconds, as RunPod's are (and longer): a stream opened meanwhile
  // would poll thousands of times without the emulator's hold.
  writeFileSync(join(dir, "emulator.toml"), "[serverless]\nworker_boot_secs = 4.0\n");
  emulator = spawn(
    bin,
    ["emulator", "--port", "0", "--api-key", KEY, "--config", join(dir, "emulator.toml"), "--state-dir", join(dir, "state")],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  base = await new Promise((ok, fail) => {
    let out = "";
    emulator.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/podwarden emulator: a local RunPod on (http:\/\/[0-9.:]+)/);
      if (m) ok(m[1]);
    });
    emulator.on("exit", (code) => fail(new Error(`podwarden emulator exited (${code})`)));
  });
  endpoint = await newEndpoint("js-echo");
});

/** A new endpoint (no worker yet) whose echo worker (the image's CMD) streams one chunk per
 * word of `input.text`, as RunPod's SDK sees it. */
async function newEndpoint(name) {
  const tpl = await rest("POST", "/v2/templates", {
    name: `${name}-tpl`, image: "podwarden/echo-worker:demo", serverless: true,
  });
  const ep = await rest("POST", "/v2/serverless", {
    name, type: "QUEUE", templateId: tpl.id, gpu: { pools: ["AMPERE_16"] },
    scaling: { type: "REQUEST_COUNT", requestCount: 1 }, workers: { min: 0, max: 1, idleTimeout: 60 },
  });
  return runpodSdk(KEY, { baseUrl: `${base}/v2` }).endpoint(ep.id);
}

after(() => emulator.kill());

test("runSync returns the worker's output", async () => {
  const r = await endpoint.runSync({ input: { text: "hello there" } });
  assert.equal(r.status, "COMPLETED", JSON.stringify(r));
  assert.deepEqual(r.output, { echo: { text: "hello there" }, words: 2 });
});

test("stream yields every chunk once, from a job still queued, without a 429", async () => {
  // A cold endpoint: the stream opens while its first worker boots.
  const cold = await newEndpoint("js-cold");
  const { id, status } = await cold.run({ input: { text: "one two three four" } });
  assert.equal(status, "IN_QUEUE");
  const chunks = [];
  const before = streamCalls;
  for await (const c of cold.stream(id)) chunks.push(c.output);
  assert.deepEqual(chunks, ["one", "two", "three", "four"]);
  const calls = streamCalls - before;
  assert.ok(calls >= 1 && calls <= 10, `the SDK's no-delay loop made ${calls} /stream calls`);
  const done = await cold.status(id);
  assert.equal(done.status, "COMPLETED", JSON.stringify(done));
});

test("cancel ends a queued job and health counts the jobs", async () => {
  // A cold endpoint: the job waits for its worker's boot, so the cancel finds it queued.
  const cold = await newEndpoint("js-cancel");
  const { id } = await cold.run({ input: { text: "never" } });
  const c = await cold.cancel(id);
  assert.equal(c.status, "CANCELLED", JSON.stringify(c));
  const h = await endpoint.health();
  assert.ok(h.jobs.completed >= 1, JSON.stringify(h));
});
