// The TypeScript client (built to dist/) against a live `podwarden serve` on its embedded
// emulator: the seed apps' flows — the fine-tuning app's budgeted pod job with its loss chart,
// the influence dashboard's serverless request on the user's own RunPod key — event following
// with resume, and errors with the API's code and hint. PODWARDEN_BIN overrides the binary.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { Podwarden, PodwardenError } from "../dist/index.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const bin = process.env.PODWARDEN_BIN || join(root, "target/debug/podwarden");
const admin = "pw_admin_" + randomBytes(16).toString("hex");
const runpodKey = "rpa_TEST" + randomBytes(12).toString("hex").toUpperCase();
let server, url;

before(async () => {
  server = spawn(bin, ["serve", "--port", "0", "--tick-ms", "100"], {
    env: { ...process.env, PODWARDEN_HOME: mkdtempSync(join(tmpdir(), "pw-ts-")), PODWARDEN_ADMIN_TOKEN: admin, PODWARDEN_EMULATOR_API_KEY: runpodKey, RUNPOD_API_KEY: "" },
    stdio: ["ignore", "pipe", "ignore"],
  });
  url = await new Promise((ok, fail) => {
    let out = "";
    server.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/podwarden server on (http:\/\/[0-9.:]+)/);
      if (m) ok(m[1]);
    });
    server.on("exit", (code) => fail(new Error(`podwarden serve exited (${code})`)));
  });
});

after(() => server.kill());

/** A new user's token. */
async function newUserToken() {
  const r = await fetch(`${url}/api/v1/users`, {
    method: "POST",
    headers: { Authorization: `Bearer ${admin}`, "Content-Type": "application/json" },
    body: JSON.stringify({ name: "app-" + randomBytes(4).toString("hex") }),
  });
  assert.equal(r.status, 201);
  return (await r.json()).token;
}

/** A client for a new user. */
async function newUser() {
  return new Podwarden(url, await newUserToken());
}

const lossJob = {
  name: "finetune-demo",
  image: "python:3.11",
  command:
    "i=0; for l in 2.5 1.9 1.4 1.1 0.9; do i=$((i+1)); " +
    "curl -fsS -X POST -H \"Authorization: Bearer $PODWARDEN_JOB_TOKEN\" -H 'Content-Type: application/json' " +
    "-d \"{\\\"step\\\": $i, \\\"loss\\\": $l}\" \"$PODWARDEN_METRICS_URL\" >/dev/null; done; echo trained",
  gpu: { min_vram_gb: 16 },
  limits: { budget_usd: 0.5, max_runtime: "10m" },
};

test("a budgeted pod job is followed to the end and its loss charted", async () => {
  const pw = await newUser();
  const job = await pw.submitJob(lossJob);
  assert.equal(job.budget_usd, 0.5);
  const seen = [];
  for await (const e of pw.events(job.id)) seen.push(e);
  assert.ok(seen.some((e) => e.kind === "state" && e.message.startsWith("succeeded")), JSON.stringify(seen));
  assert.deepEqual(seen.map((e) => e.id), [...new Set(seen.map((e) => e.id))].sort((a, b) => a - b), "in order, none twice");
  const done = await pw.wait(job.id, { timeoutMs: 120_000 });
  assert.equal(done.state, "succeeded", done.reason ?? "");
  assert.deepEqual(await pw.losses(job.id), [[1, 2.5], [2, 1.9], [3, 1.4], [4, 1.1], [5, 0.9]]);
  // Resuming after an event yields exactly what came after it.
  const k = seen[1].id;
  const resumed = [];
  for await (const e of pw.events(job.id, { after: k })) resumed.push(e.id);
  assert.deepEqual(resumed, seen.filter((e) => e.id > k).map((e) => e.id));
  const cost = await pw.cost();
  assert.ok(cost.by_job.some((row) => row[0] === job.id));
  assert.ok(done.spent_usd > 0 && done.spent_usd <= 0.5);
});

test("a dropped event stream resumes after the last event seen", async () => {
  const token = await newUserToken();
  let dropped = 0;
  const resumedFrom = [];
  // A fetch whose first event stream is cut after its first event, as a flaky network would.
  const flakyFetch = async (input, init) => {
    const r = await fetch(input, init);
    const sse = init?.headers?.Accept === "text/event-stream" && String(input).includes("/events");
    if (!sse) return r;
    if (init.headers["Last-Event-ID"]) resumedFrom.push(init.headers["Last-Event-ID"]);
    if (dropped++) return r;
    const reader = r.body.getReader();
    let buf = "";
    let cut = false;
    const body = new ReadableStream({
      async pull(ctl) {
        // The first event is delivered; the read after it fails (erroring at once would drop it).
        if (cut) return ctl.error(new TypeError("terminated (test)"));
        const { value, done } = await reader.read();
        if (done) return ctl.close();
        buf += new TextDecoder().decode(value);
        const end = buf.indexOf("\n\n");
        if (end >= 0) {
          ctl.enqueue(new TextEncoder().encode(buf.slice(0, end + 2)));
          reader.cancel();
          cut = true;
        }
      },
    });
    return new Response(body, { status: r.status, headers: r.headers });
  };
  const pw = new Podwarden(url, token, { fetch: flakyFetch });
  const job = await pw.submitJob(lossJob);
  const seen = [];
  for await (const e of pw.events(job.id)) seen.push(e.id);
  const everything = [];
  for await (const e of new Podwarden(url, token).events(job.id)) everything.push(e.id);
  assert.equal(resumedFrom[0], String(everything[0]), JSON.stringify(resumedFrom));
  assert.deepEqual(seen, everything, "no event missed or repeated across the drop");
});

test("a finished job's logs are read back", async () => {
  const pw = await newUser();
  const job = await pw.submitJob(lossJob);
  await pw.wait(job.id, { timeoutMs: 120_000 });
  const lines = [];
  for await (const l of pw.logs(job.id)) lines.push(l);
  assert.ok(lines.some((l) => l.includes("trained")), JSON.stringify(lines));
  const node0 = [];
  for await (const l of pw.logs(job.id, { node: 0 })) node0.push(l);
  assert.deepEqual(node0, lines, "node 0 is the job's only pod");
  // A node the job does not have is refused, not answered with node 0's lines.
  await assert.rejects(
    (async () => { for await (const _ of pw.logs(job.id, { node: 5 })) { /* none */ } })(),
    (e) => e instanceof PodwardenError && e.status === 422,
  );
});

test("a serverless request runs on the user's own RunPod key", async () => {
  const pw = await newUser();
  assert.equal((await pw.runpodKey()).backend, "hosted");
  const s = await pw.setRunpodKey(runpodKey);
  assert.equal(s.backend, "runpod");
  assert.equal(s.last4, runpodKey.slice(-4));
  assert.ok(!JSON.stringify(s).includes(runpodKey));
  await pw.deployEndpoint({ name: "influence-score", image: "podwarden/echo-worker:demo", gpu: { pools: ["AMPERE_24"] }, workers: { max: 1, idle_timeout: "5s" } });
  const r = await pw.submitRequest("influence-score", { handle: "@someone", posts: 3 });
  const done = await pw.wait(r.id, { timeoutMs: 120_000 });
  assert.equal(done.state, "succeeded", done.reason ?? "");
  assert.deepEqual(done.output.echo, { handle: "@someone", posts: 3 });
  await assert.rejects(pw.deleteRunpodKey(), (e) => e instanceof PodwardenError && e.code === "endpoints_on_key" && e.hint.includes("endpoint rm"));
  await pw.removeEndpoint("influence-score");
  assert.equal((await pw.deleteRunpodKey()).backend, "hosted");
});

test("wait gives up at its timeout and the work goes on", async () => {
  const pw = await newUser();
  const job = await pw.submitJob({ ...lossJob, name: "long", command: "sleep 600" });
  await assert.rejects(pw.wait(job.id, { timeoutMs: 1000 }), (e) => e instanceof PodwardenError && e.code === "timeout");
  assert.equal((await pw.job(job.id)).ended_at ?? null, null, "the job went on");
  await pw.stop(job.id);
  const done = await pw.wait(job.id, { timeoutMs: 120_000 });
  assert.ok(["cancelled", "stopped"].includes(done.state), done.state);
});

test("a dev pod's SSH connection is given to its owner once it has booted", async () => {
  const pw = await newUser();
  const job = await pw.submitJob({
    name: "dev",
    image: "runpod/pytorch:2.4.0-py3.11-cuda12.4.1-devel-ubuntu22.04",
    ssh: { public_keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA app@ci"] },
    gpu: { min_vram_gb: 16 },
    limits: { budget_usd: 0.5 },
  });
  assert.equal(job.kind, "dev");
  const info = await pw.sshInfo(job.id, { timeoutMs: 120_000 });
  assert.deepEqual([info.user, info.host], ["root", "127.0.0.1"]);
  assert.equal(info.command, `ssh -p ${info.port} root@127.0.0.1`);
  await assert.rejects((await newUser()).sshInfo(job.id), (e) => e instanceof PodwardenError && e.status === 404);
  await pw.stop(job.id);
  await assert.rejects(pw.sshInfo(job.id), (e) => e instanceof PodwardenError && e.code === "no_pod");
});

test("errors carry the API's status, code, message and hint", async () => {
  const pw = await newUser();
  await assert.rejects(pw.submitJob({ ...lossJob, budgett: 1 }), (e) => e instanceof PodwardenError && e.status === 422 && e.message.includes("budgett") && Boolean(e.hint));
  await assert.rejects(pw.job("job_00000000000000000000000000000000"), (e) => e.status === 404 && e.code === "not_found");
  const wrong = new Podwarden(url, "pw_wrong");
  await assert.rejects(wrong.me(), (e) => e.status === 401);
  assert.ok(!JSON.stringify(wrong).includes("pw_wrong"), "the token never serializes");
  await assert.rejects(new Podwarden("http://127.0.0.1:9", "t").me(), (e) => e.status === 0 && e.code === "unreachable");
});
