// The dashboard in a real browser: Debian's headless Chromium driven by playwright-core, against
// `podwarden serve` on its embedded RunPod emulator. Logs in, saves a RunPod key, launches a job
// whose command posts loss points, watches the chart update, stops the job, reads the costs —
// and checks that HTML in names and commands stays text. Screenshots: target/browser-artifacts/.
//
// Run: `npm test` here after `cargo build` (PODWARDEN_BIN overrides the binary,
// PODWARDEN_CHROMIUM the browser). No sleeps: every wait is for a state of the page.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../../../..");
const bin = process.env.PODWARDEN_BIN || join(root, "target/debug/podwarden");
const artifacts = join(root, "target/browser-artifacts");
const adminToken = "pw_admin_" + randomBytes(16).toString("hex");
const runpodKey = "rpa_TEST" + randomBytes(12).toString("hex").toUpperCase();

let server, url, browser, page, home;
const pageErrors = [];

async function shot(name) {
  await page.screenshot({ path: join(artifacts, name + ".png"), fullPage: true });
}

/** Starts `podwarden serve --port 0` and reads its URL from the first line it prints. */
function startServer() {
  home = mkdtempSync(join(tmpdir(), "pw-dash-"));
  server = spawn(bin, ["serve", "--port", "0", "--tick-ms", "200"], {
    env: { ...process.env, PODWARDEN_HOME: home, PODWARDEN_ADMIN_TOKEN: adminToken, PODWARDEN_EMULATOR_API_KEY: runpodKey, RUNPOD_API_KEY: "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  server.stderr.on("data", (d) => (stderr += d));
  return new Promise((ok, fail) => {
    let out = "";
    server.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/podwarden server on (http:\/\/[0-9.:]+)/);
      if (m) ok(m[1]);
    });
    server.on("exit", (code) => fail(new Error(`podwarden serve exited (${code}): ${stderr}`)));
  });
}

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  url = await startServer();
  browser = await chromium.launch({ executablePath: process.env.PODWARDEN_CHROMIUM || "/usr/bin/chromium", args: ["--no-sandbox"] });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("dialog", (d) => {
    pageErrors.push("dialog: " + d.message());
    d.dismiss();
  });
});

after(async () => {
  await browser?.close();
  server?.kill("SIGTERM");
  if (home) rmSync(home, { recursive: true, force: true });
});

const pwned = () => page.evaluate(() => window.__pwned);

test("sign in: a wrong token is refused, the right one opens the jobs list", async () => {
  await page.goto(url + "/");
  await page.fill("#token", "not-a-token");
  await page.click("#login button[type=submit]");
  await page.getByText("That token is not valid.").waitFor();
  await page.fill("#token", adminToken);
  await page.click("#login button[type=submit]");
  await page.getByText("No jobs yet").waitFor();
  assert.equal(await page.textContent("#who"), "admin");
  await shot("01-jobs-empty");
});

test("settings → compute: a wrong key is explained, the right one is saved and shown only masked", async () => {
  await page.click("nav a[data-page=settings]");
  await page.check("#backend-runpod");
  await page.fill("#api-key", runpodKey + "X");
  await page.click("#save-key");
  await page.getByText("RunPod rejected this API key").waitFor();
  await page.fill("#api-key", runpodKey);
  await page.check("#show-key");
  assert.equal(await page.getAttribute("#api-key", "type"), "text", "the show toggle reveals what was typed");
  await page.click("#save-key");
  await page.getByText(`Key saved (ending in ${runpodKey.slice(-4)})`).waitFor();
  assert.equal(await page.inputValue("#api-key"), "", "the field is cleared after saving");
  assert.ok(!(await page.content()).includes(runpodKey), "the key is nowhere in the page");
  await page.getByText("stores it encrypted").waitFor();
  await page.locator("#experiment-estimate").getByText("boot included").waitFor();
  await shot("02-settings-key-saved");
  // Back to hosted and in again: removing works and the status follows.
  await page.click("#remove-key");
  await page.getByText("Using the operator's hosted compute.").waitFor();
  // The admin has no spend cap: nothing is printed for it (once a literal "null").
  assert.equal((await page.textContent("#key-status")).trim(), "Using the operator's hosted compute.");
  await page.check("#backend-runpod");
  await page.fill("#api-key", runpodKey);
  await page.click("#save-key");
  await page.getByText(`Key saved (ending in ${runpodKey.slice(-4)})`).waitFor();
});

test("new job: HTML in a name is refused and shown as text; a job launches with an estimate", async () => {
  // The estimate shown is the server's (the CLI's `run --estimate`), boot included.
  const answer = page.waitForResponse((r) => r.url().endsWith("/api/v1/estimate") && r.ok());
  await page.click("nav a[data-page=new]");
  await page.locator("#gpus tbody tr").first().waitFor();
  const e = await (await answer).json();
  const usd = (x) => "$" + Number(x).toFixed(x < 1 ? 4 : 2);
  await page.locator("#estimate-cost").getByText(usd(e.max_cost_usd), { exact: true }).waitFor();
  await page.locator("#estimate").getByText("min boot").waitFor();
  assert.equal(e.bound, "max_runtime", "the form's 2 h bounds it");
  const evil = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 1">';
  await page.fill("#name", evil);
  await page.fill("#command", "true");
  await page.click("#launch");
  const err = page.locator("#new-job .error");
  await err.getByText("is not a valid job name").waitFor();
  assert.ok((await err.textContent()).includes("<script>"), "the name is shown as typed, as text");
  assert.equal(await page.locator("#new-job .error script, #new-job .error img").count(), 0, "no element was made from it");
  assert.equal(await pwned(), undefined);
  await shot("03-new-job-refused");

  await page.fill("#name", "loss-demo");
  // The job's own code: posts eight falling losses to its metrics endpoint, then works on.
  const command =
    "echo 'training <img src=x onerror=\"window.__pwned=2\">'; i=0; for l in 2.9 2.1 1.7 1.4 1.2 1.1 1.0 0.95; do i=$((i+1)); " +
    "curl -fsS -X POST -H \"Authorization: Bearer $PODWARDEN_JOB_TOKEN\" -H 'Content-Type: application/json' " +
    "-d \"{\\\"step\\\": $i, \\\"loss\\\": $l}\" \"$PODWARDEN_METRICS_URL\" >/dev/null; sleep 0.4; done; sleep 600";
  await page.fill("#command", command);
  await page.fill("#budget", "2");
  await page.click("#launch");
  await page.waitForURL(/#\/jobs\/job_/);
});

test("job page: live loss chart, pod logs, cost meter, stop", async () => {
  await page.locator("#job-name").getByText("loss-demo").waitFor();
  // The chart fills as the pod posts: first point, then all eight, without a reload.
  await page.waitForFunction(() => Number(document.querySelector("#loss-chart")?.dataset.points) >= 1, null, { timeout: 60_000 });
  const first = Number(await page.getAttribute("#loss-chart", "data-points"));
  await page.waitForFunction(() => Number(document.querySelector("#loss-chart")?.dataset.points) >= 8, null, { timeout: 60_000 });
  assert.ok(first < 8, `the chart updated live (${first} point(s) at first, 8 later)`);
  assert.equal(await page.getAttribute("#loss-chart", "data-last-loss"), "0.95");
  await page.locator("#pod-logs").getByText("training <img").waitFor({ timeout: 30_000 });
  assert.equal(await page.locator("#pod-logs img, #job-command img").count(), 0, "log and command text make no elements");
  assert.ok((await page.textContent("#job-command")).includes('<img src=x onerror="window.__pwned=2">'));
  await page.locator("#cost-meter").getByText("of $2.00").waitFor();
  assert.equal(await page.locator("#cost-meter [role=meter]").count(), 1);
  await shot("04-job-running-chart");
  await page.click("#stop");
  await page.locator(".state-cancelled").first().waitFor({ timeout: 60_000 });
  await page.locator("#events").getByText("stopped by the user").waitFor();
  await shot("05-job-stopped");
  // Opened again later, the page shows each point once (stored events replay on the stream).
  const url = page.url();
  await page.click("nav a[data-page=jobs]");
  await page.goto(url);
  await page.locator("#events").getByText(/cancelled: stopped by the user; every resource is confirmed gone/).waitFor({ timeout: 60_000 });
  await page.waitForFunction(() => Number(document.querySelector("#loss-chart")?.dataset.points) >= 8);
  assert.equal(await page.getAttribute("#loss-chart", "data-points"), "8");
  // The finished job's pod logs are the ones the server kept.
  await page.locator("#pod-logs").getByText("training <img").waitFor({ timeout: 30_000 });
  assert.equal(await pwned(), undefined);
});

/** The REST API as the admin, from the test itself. */
async function call(method, path, body) {
  const r = await fetch(url + "/api/v1" + path, {
    method,
    headers: { Authorization: `Bearer ${adminToken}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  assert.ok(r.ok, `${method} ${path}: ${r.status} ${text}`);
  return JSON.parse(text);
}

test("job page: a dev pod shows how to log in to it once booted", async () => {
  const job = await call("POST", "/jobs", {
    name: "dev-pod",
    image: "runpod/pytorch:2.4.0-py3.11-cuda12.4.1-devel-ubuntu22.04",
    ssh: { public_keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA admin@ci"] },
    gpu: { min_vram_gb: 16 },
    limits: { budget_usd: 1 },
  });
  assert.equal(job.kind, "dev");
  await page.goto(url + "/#/jobs/" + job.id);
  // The page asks again at each event: the login appears once the pod's 22/tcp is mapped.
  await page.locator("#job-ssh").getByText(/^ssh -p \d+ root@127\.0\.0\.1$/).waitFor({ timeout: 60_000 });
  await shot("06-dev-pod-ssh");
  await call("POST", `/jobs/${job.id}/stop`);
  await page.locator(".state-cancelled").first().waitFor({ timeout: 60_000 });
  assert.equal(await page.locator("#job-ssh").count(), 0, "an ended job offers no login");
});

test("a multi-line command keeps its lines, and serverless jobs are on the Jobs page", async () => {
  const job = await call("POST", "/jobs", {
    name: "two-lines",
    image: "runpod/pytorch:2.4.0-py3.11-cuda12.4.1-devel-ubuntu22.04",
    command: "echo one\necho two",
    gpu: { min_vram_gb: 16 },
    limits: { budget_usd: 1 },
  });
  await page.goto(url + "/#/jobs/" + job.id);
  await page.locator("#job-name").getByText("two-lines").waitFor();
  assert.equal(await page.innerText("#job-command"), "echo one\necho two", "shown on two lines");
  await call("POST", "/endpoints", {
    name: "echo",
    image: "podwarden/echo-worker:demo",
    gpu: { pools: ["AMPERE_16"] },
    workers: { min: 0, max: 1, idle_timeout: "5s" },
  });
  const req = await call("POST", "/requests", { endpoint: "echo", name: "hello", input: { text: "hi" } });
  await page.click("nav a[data-page=jobs]");
  const row = page.locator(`#serverless-jobs tr[data-id="${req.id}"]`);
  await row.waitFor();
  assert.match(await row.textContent(), /echo/);
  // One table, one body: the row's cells sit under their headers.
  assert.equal(await page.locator("#serverless-jobs tbody tbody").count(), 0);
  assert.equal(await row.locator("td").count(), 6);
  await shot("07c-serverless-jobs");
});

test("jobs list and costs", async () => {
  await page.click("nav a[data-page=jobs]");
  const row = page.locator("#jobs tbody tr", { hasText: "loss-demo" });
  await row.waitFor();
  assert.match(await row.textContent(), /cancelled/);
  assert.match(await row.textContent(), /\$[0-9.]+ of \$2\.00/);
  await shot("06-jobs-list");
  await page.click("nav a[data-page=costs]");
  await page.locator("#cost-total").waitFor();
  assert.match(await page.textContent("#cost-total"), /^\$[0-9.]+$/);
  assert.match(await page.textContent("#reconciliation"), /RunPod's bill/, "the admin sees the ledger against the bill");
  assert.match(await page.textContent("#strays"), /No pod of another podwarden install/);
  assert.match(await page.textContent("#tasks"), /pods.*hosted/, "the admin sees each reconciler's last pass");
  await page.locator("#cost-by-job").getByText("loss-demo").waitFor();
  await shot("07-costs");
  // The embedded emulator's quickstart volume is the admin's.
  await page.click("nav a[data-page=volumes]");
  const vol = page.locator("#volumes tbody tr", { hasText: "podwarden-quickstart" });
  await vol.waitFor();
  assert.match(await vol.textContent(), /EU-RO-1/);
  assert.match(await vol.textContent(), /10 GB/);
  await shot("07b-volumes");
  assert.equal(await pwned(), undefined);
  assert.deepEqual(pageErrors, [], "no script errors or dialogs on any page");
});

test("new job: a fine-tune is described by model and dataset; the server's checks come back readable", async () => {
  await page.click("nav a[data-page=new]");
  await page.locator("#gpus tbody tr").first().waitFor();
  await page.check("#kind-finetune");
  assert.equal(await page.isVisible("#command"), false, "no command for a fine-tune");
  await page.fill("#name", "llama-lora");
  await page.fill("#ft-model", "meta llama; rm -rf /");
  await page.fill("#ft-dataset", "https://data.example/train.jsonl");
  await page.click("#launch");
  await page.locator("#new-job .error").getByText("finetune.model").waitFor();
  // A valid one: the request the page sends is the job spec's [finetune] table. The test answers
  // it itself — the emulator would really run the generated script (pip installs) on this machine.
  let sent;
  await page.route("**/api/v1/jobs", async (route) => {
    sent = route.request().postDataJSON();
    await route.fulfill({ status: 422, contentType: "application/json", body: JSON.stringify({ code: "test", message: "held by the test" }) });
  });
  await page.fill("#ft-model", "meta-llama/Llama-3.2-1B");
  await page.selectOption("#ft-quant", "8bit");
  await page.fill("#ft-rank", "8");
  // The adapter goes to a volume: the user's volumes are offered.
  await page.locator("#ft-volume option", { hasText: "podwarden-quickstart" }).waitFor({ state: "attached" });
  await page.click("#launch");
  await page.locator("#new-job .error").getByText("held by the test").waitFor();
  await page.unroute("**/api/v1/jobs");
  assert.equal(sent.command, undefined);
  assert.equal(sent.network_volume, "podwarden-quickstart");
  assert.deepEqual(sent.finetune, {
    model: "meta-llama/Llama-3.2-1B",
    dataset_url: "https://data.example/train.jsonl",
    output_dir: "/workspace/adapters/llama-lora",
    text_field: "text",
    epochs: 3,
    quantization: "8bit",
    lora: { r: 8 },
  });
  assert.equal(sent.name, "llama-lora");
  await shot("08-new-finetune");
  assert.deepEqual(pageErrors, []);
});

test("users (admin): a new user's token is shown once, a cap is set, and the user sees only their own jobs", async () => {
  await page.click("nav a[data-page=users]");
  await page.fill("#new-user-name", "bob");
  await page.click("#new-user button[type=submit]");
  const token = (await page.locator("#new-token").textContent()).trim();
  assert.match(token, /^\S{20,}$/);
  const row = page.locator('#users tr[data-user="bob"]');
  await row.locator("input.cap").fill("1.5");
  await row.locator("button").click();
  await row.locator(".cap-now").getByText("$1.50").waitFor();
  await page.fill("#new-user-name", "bob");
  await page.click("#new-user button[type=submit]");
  await page.locator("#users").locator("xpath=..").getByText('the user name "bob" is taken', { exact: false }).waitFor();
  await shot("09-users");
  // Bob signs in: none of the admin's jobs, no Users page, his cap on Settings.
  await page.click("#logout");
  await page.locator("#token").waitFor();
  // Signed out: neither the admin's nav links nor the "simulated" badge stay.
  assert.equal(await page.isVisible("#nav"), false, "no nav links on the sign-in page");
  assert.equal(await page.isVisible("#sim"), false, "no badge on the sign-in page");
  await page.fill("#token", token);
  await page.click("#login button[type=submit]");
  await page.getByText("No jobs yet").waitFor();
  assert.equal(await page.textContent("#who"), "bob");
  assert.equal(await page.isVisible("#nav-users"), false);
  await page.click("nav a[data-page=settings]");
  await page.locator("#spend-cap").getByText("Hosted spend cap: $1.50").waitFor();
  assert.deepEqual(pageErrors, []);
});
