// The dashboard of a server with AWS on (moto as AWS, from the repo's .venv): the new-job page
// lists both providers' offers, says whose each is, and an AWS offer launches a job on AWS (the
// first version sent AWS's "on-demand" as a RunPod cloud, and was refused). moto runs no
// instance, so the job is stopped once it is placed.
//
// Run: `npm test` here after `cargo build` (PODWARDEN_BIN, PODWARDEN_CHROMIUM, PODWARDEN_MOTO_SERVER
// override the binaries). No sleeps: every wait is for a state of the page or a process.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../../../..");
const bin = process.env.PODWARDEN_BIN || join(root, "target/debug/podwarden");
const motoBin = process.env.PODWARDEN_MOTO_SERVER || join(root, ".venv/bin/moto_server");
const adminToken = "pw_admin_" + randomBytes(16).toString("hex");

let server, moto, url, browser, page, home;

/** A port nothing listens on now. */
const freePort = () =>
  new Promise((ok) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });

/** Resolves once `proc` prints a line matching `re` on `stream`; rejects if it exits first. */
function waitFor(proc, stream, re) {
  return new Promise((ok, fail) => {
    let out = "";
    proc[stream].on("data", (d) => {
      out += d;
      const m = out.match(re);
      if (m) ok(m);
    });
    proc.on("exit", (code) => fail(new Error(`exited (${code}): ${out}`)));
  });
}

before(async () => {
  assert.ok(existsSync(motoBin), `moto_server is installed (scripts/test puts it in .venv): ${motoBin}`);
  const port = await freePort();
  moto = spawn(motoBin, ["-H", "127.0.0.1", "-p", String(port)], { stdio: ["ignore", "pipe", "pipe"] });
  await waitFor(moto, "stderr", /Running on/);
  home = mkdtempSync(join(tmpdir(), "pw-dash-aws-"));
  server = spawn(bin, ["serve", "--port", "0", "--tick-ms", "200"], {
    env: {
      ...process.env, PODWARDEN_HOME: home, PODWARDEN_ADMIN_TOKEN: adminToken, RUNPOD_API_KEY: "",
      PODWARDEN_AWS: "on", PODWARDEN_AWS_AMI: "ami-12c6146b", AWS_REGION: "us-east-1",
      AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`, AWS_ACCESS_KEY_ID: "AKIDPODWARDENTEST", AWS_SECRET_ACCESS_KEY: "moto-accepts-any-secret",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  url = (await waitFor(server, "stdout", /podwarden server on (http:\/\/[0-9.:]+)/))[1];
  browser = await chromium.launch({ executablePath: process.env.PODWARDEN_CHROMIUM || "/usr/bin/chromium", args: ["--no-sandbox"] });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
});

after(async () => {
  await browser?.close();
  server?.kill("SIGTERM");
  moto?.kill("SIGTERM");
  if (home) rmSync(home, { recursive: true, force: true });
});

const api = async (method, path) =>
  (await fetch(url + "/api/v1" + path, { method, headers: { Authorization: "Bearer " + adminToken } })).json();

test("new job with AWS on: both providers' offers, and an AWS offer launches on AWS", async () => {
  await page.goto(url + "/");
  await page.fill("#token", adminToken);
  await page.click("#login button[type=submit]");
  await page.click("nav a[data-page=new]");
  const row = page.locator("#gpus tbody tr", { hasText: "g4dn.xlarge" });
  await row.waitFor();
  assert.equal(await page.locator("#gpus thead th", { hasText: "Provider" }).count(), 1, "a provider column");
  assert.ok((await row.textContent()).includes("aws"));
  assert.ok((await page.locator("#gpus tbody tr", { hasText: "runpod" }).count()) > 0, "RunPod's beside");
  await page.fill("#name", "on-aws");
  await page.fill("#command", "sleep 600");
  await row.locator("input[type=radio]").check();
  await page.click("#launch");
  await page.waitForURL(/#\/jobs\/job_/);
  const id = decodeURIComponent(page.url().split("#/jobs/")[1]);
  const job = await api("GET", "/jobs/" + id);
  assert.equal(job.backend, "aws", JSON.stringify(job));
  await api("POST", "/jobs/" + id + "/stop");
});

test("settings → AWS: a key pair is checked, kept masked, and removed", async () => {
  await page.click("nav a[data-page=settings]");
  await page.locator("#aws-compute").waitFor();
  await page.getByText("Your AWS jobs run on the operator's AWS account.").waitFor();
  const secret = "wJalrXUtnFEMIK7MDENGbPxRfiCYzEXAMPLEKEY";
  await page.fill("#aws-key-id", "AKIAOWNKEY00004321");
  await page.fill("#aws-secret", secret);
  await page.click("#save-aws-key");
  await page.getByText("AWS key saved (ending in 4321)").waitFor();
  assert.ok(!(await page.content()).includes(secret), "the secret is not on the page");
  await page.click("#remove-aws-key");
  await page.getByText("Your AWS jobs run on the operator's AWS account.").waitFor();
});
