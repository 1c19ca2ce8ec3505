// podwarden's dashboard: a dependency-free single page over the REST API (/api/v1). Every value
// from the server is put in the page as text (textContent), never as HTML, and the server's
// Content-Security-Policy allows no inline script: a job named "<script>" stays a name.
"use strict";

const $main = () => document.getElementById("main");
let page = { abort: new AbortController(), timers: [] };

// ---- helpers -------------------------------------------------------------------------------

/** Builds an element; strings and numbers become text nodes. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const usd = (x) => (x === null || x === undefined ? "—" : "$" + Number(x).toFixed(x < 1 ? 4 : 2));
const token = () => sessionStorage.getItem("podwarden-token") || "";

function duration(ms) {
  if (ms === null || ms === undefined || ms < 0) return "—";
  const s = Math.floor(ms / 1000);
  const [hh, mm, ss] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  return hh ? `${hh}h ${mm}m` : mm ? `${mm}m ${ss}s` : `${ss}s`;
}

class ApiError extends Error {
  constructor(status, body) {
    super(body && body.message ? body.message : `HTTP ${status}`);
    this.status = status;
    this.code = body && body.code;
    this.hint = body && body.hint;
  }
}

/** Calls the API; a 401 signs out (back to the login page) unless `signingIn`. */
async function api(method, path, body, signingIn = false) {
  const opts = { method, headers: { Authorization: "Bearer " + token() }, signal: page.abort.signal };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const r = await fetch("/api/v1" + path, opts);
  const text = await r.text();
  const data = text ? JSON.parse(text) : null;
  if (r.status === 401 && !signingIn) {
    sessionStorage.removeItem("podwarden-token");
    route();
    throw new ApiError(401, data);
  }
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

/** Server-Sent Events over fetch (EventSource cannot send the Authorization header). */
async function sse(path, onEvent) {
  const r = await fetch("/api/v1" + path, {
    headers: { Authorization: "Bearer " + token(), Accept: "text/event-stream" },
    signal: page.abort.signal,
  });
  if (!r.ok) throw new ApiError(r.status, await r.json().catch(() => null));
  const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const ev = { event: "message", data: "", id: null };
      for (const line of block.split("\n")) {
        const [k, ...rest] = line.split(":");
        const v = rest.join(":").replace(/^ /, "");
        if (k === "event") ev.event = v;
        else if (k === "data") ev.data += (ev.data ? "\n" : "") + v;
        else if (k === "id") ev.id = v;
      }
      if (block.startsWith(":")) continue; // keep-alive comment
      onEvent(ev);
    }
  }
}

function every(ms, f) {
  page.timers.push(setInterval(f, ms));
}

function errorBox(e) {
  const box = h("div", { class: "error", role: "alert" });
  if (e) showError(box, e);
  return box;
}

/** Puts an error's message (and hint) in `box`, replacing what was there. */
function showError(box, e) {
  box.replaceChildren(e.message, e.hint ? "\n" + e.hint : "");
}

function show(...nodes) {
  $main().replaceChildren(...nodes);
}

// ---- pages ---------------------------------------------------------------------------------

function loginPage() {
  const input = h("input", { type: "password", id: "token", autocomplete: "off", placeholder: "API token" });
  const err = errorBox();
  const form = h(
    "form",
    { class: "stack card", id: "login" },
    h("h1", {}, "Sign in"),
    h("p", { class: "muted" }, "Paste an API token. The admin's is in PODWARDEN_HOME/token (or PODWARDEN_ADMIN_TOKEN); an admin creates users and their tokens with POST /api/v1/users."),
    h("label", { for: "token" }, "Token"),
    input,
    err,
    h("button", { type: "submit" }, "Sign in"),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    sessionStorage.setItem("podwarden-token", input.value.trim());
    try {
      await api("GET", "/me", undefined, true);
      location.hash = "#/jobs";
      route();
    } catch (x) {
      sessionStorage.removeItem("podwarden-token");
      showError(err, x.status === 401 ? new Error("That token is not valid.") : x);
    }
  });
  show(form);
}

function stateCell(state) {
  return h("span", { class: "state-" + state.split(" ")[0] }, state);
}

// A job's state; a queued one with how long it has waited (its reason says for what).
function jobState(j) {
  if (!j.queued_since) return j.state;
  const s = Math.max(0, Math.floor((Date.now() - j.queued_since) / 1000));
  const waited = s < 60 ? s + " s" : s < 3600 ? Math.floor(s / 60) + " min" : Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
  return j.state + " for " + waited;
}

function costMeter(spent, budget) {
  const pct = budget ? Math.min(100, (100 * spent) / budget) : 0;
  const bar = h("div", {});
  bar.style.width = pct + "%";
  return h(
    "div",
    { class: "cost" },
    h("span", { class: "spent" }, usd(spent)),
    budget ? h("span", { class: "muted" }, " of ", usd(budget)) : h("span", { class: "muted" }, " (no budget)"),
    budget ? h("div", { class: "meter" + (pct >= 90 ? " hot" : ""), role: "meter", "aria-valuenow": pct.toFixed(0), "aria-valuemin": 0, "aria-valuemax": 100 }, bar) : null,
  );
}

function elapsed(j) {
  if (!j.started_at) return "—";
  return duration((j.ended_at || Date.now()) - j.started_at);
}

async function jobsPage() {
  const body = h("tbody");
  const err = errorBox();
  const sBody = h("tbody");
  const serverless = h("div", { hidden: true }, h("h2", {}, "Serverless jobs"),
    h("table", { id: "serverless-jobs" }, h("thead", {}, h("tr", {}, ["Job", "Endpoint", "State", "GPU", "Ran", "Cost"].map((c) => h("th", {}, c)))), sBody));
  show(
    h("div", { class: "row" }, h("h1", {}, "Jobs"), h("a", { href: "#/new", class: "shrink" }, h("button", {}, "New job"))),
    err,
    h("table", { id: "jobs" }, h("thead", {}, h("tr", {}, ["Name", "State", "GPU", "Elapsed", "Cost"].map((c) => h("th", {}, c)))), body),
    serverless,
  );
  const load = async () => {
    try {
      const jobs = await api("GET", "/jobs?limit=200");
      body.replaceChildren(
        ...(jobs.length
          ? jobs.map((j) =>
              h(
                "tr",
                { class: "click", dataset: { id: j.id }, onclick: () => (location.hash = "#/jobs/" + encodeURIComponent(j.id)) },
                h("td", {}, h("a", { href: "#/jobs/" + encodeURIComponent(j.id), class: "name" }, j.name)),
                h("td", {}, stateCell(jobState(j)), j.reason ? h("div", { class: "muted" }, j.reason) : null),
                h("td", {}, j.gpu || "—", j.backend === "runpod" ? h("div", { class: "muted" }, "your RunPod key") : null),
                h("td", {}, elapsed(j)),
                h("td", {}, costMeter(j.spent_usd, j.budget_usd)),
              ),
            )
          : [h("tr", {}, h("td", { colspan: 5, class: "muted" }, "No jobs yet. Start one from “New job” or with `podwarden run job.toml`."))]),
      );
      const reqs = await api("GET", "/requests?limit=200");
      serverless.hidden = !reqs.length;
      sBody.replaceChildren(
        ...reqs.map((r) =>
          h(
            "tr",
            { dataset: { id: r.id } },
            h("td", {}, h("code", {}, r.id)),
            h("td", {}, r.endpoint),
            h("td", {}, stateCell(r.state), r.reason ? h("div", { class: "muted" }, r.reason) : null),
            h("td", {}, r.gpu || "—"),
            h("td", {}, r.execution_ms === null || r.execution_ms === undefined ? "—" : duration(r.execution_ms)),
            h("td", {}, usd(r.cost_usd)),
          ),
        ),
      );
    } catch (e) {
      if (e.name !== "AbortError") err.replaceChildren(e.message);
    }
  };
  await load();
  every(3000, load);
}

/** A line chart of loss (and eval loss) by step, on a canvas. */
function lossChart() {
  const canvas = h("canvas", { id: "loss-chart", width: 1000, height: 260, dataset: { points: 0 }, role: "img", "aria-label": "loss by step" });
  const series = { loss: [], eval_loss: [] };
  // "NaN" / "Infinity" (a diverged loss) cannot be drawn; the early-stop event says what happened.
  const num = (v) => (typeof v === "number" ? v : null);
  function add(point) {
    const step = typeof point.step === "number" ? point.step : series.loss.length + series.eval_loss.length;
    for (const k of ["loss", "eval_loss"]) {
      const v = num(point[k]);
      if (v !== null) series[k].push([step, v]);
    }
    canvas.dataset.points = series.loss.length + series.eval_loss.length;
    const last = series.loss[series.loss.length - 1];
    if (last) canvas.dataset.lastLoss = String(last[1]);
    draw();
  }
  function draw() {
    const ctx = canvas.getContext("2d");
    const [W, H, pad] = [canvas.width, canvas.height, 40];
    ctx.clearRect(0, 0, W, H);
    const all = series.loss.concat(series.eval_loss);
    ctx.fillStyle = "#667085";
    ctx.font = "13px system-ui";
    if (!all.length) {
      ctx.fillText("No loss reported yet: the job posts points to PODWARDEN_METRICS_URL.", pad, H / 2);
      return;
    }
    const xs = all.map((p) => p[0]), ys = all.map((p) => p[1]);
    const [x0, x1] = [Math.min(...xs), Math.max(...xs) || 1];
    const [y0, y1] = [Math.min(...ys, 0), Math.max(...ys) || 1];
    const X = (x) => pad + ((x - x0) / (x1 - x0 || 1)) * (W - 2 * pad);
    const Y = (y) => H - pad - ((y - y0) / (y1 - y0 || 1)) * (H - 2 * pad);
    ctx.strokeStyle = "#e4e7ec";
    ctx.beginPath(); ctx.moveTo(pad, pad); ctx.lineTo(pad, H - pad); ctx.lineTo(W - pad, H - pad); ctx.stroke();
    ctx.fillText(y1.toPrecision(3), 4, pad + 4);
    ctx.fillText(y0.toPrecision(3), 4, H - pad);
    ctx.fillText("step " + x1, W - pad - 50, H - pad + 18);
    for (const [k, color] of [["loss", "#2f6feb"], ["eval_loss", "#b26a00"]]) {
      const s = series[k];
      if (!s.length) continue;
      ctx.strokeStyle = color; ctx.lineWidth = 2; ctx.beginPath();
      s.forEach(([x, y], i) => (i ? ctx.lineTo(X(x), Y(y)) : ctx.moveTo(X(x), Y(y))));
      ctx.stroke();
      ctx.fillStyle = color; ctx.fillText(k, W - pad - 70, pad + (k === "loss" ? 0 : 16));
    }
  }
  draw();
  return { canvas, add };
}

async function jobPage(id) {
  const err = errorBox();
  const head = h("div");
  const chart = lossChart();
  const events = h("pre", { class: "log", id: "events" });
  const logs = h("pre", { class: "log", id: "pod-logs" }, "");
  const stop = h("button", { class: "danger", id: "stop" }, "Stop");
  // A job with `ssh`: how to log in to its pod, once it has booted.
  const ssh = h("div");
  show(h("p", {}, h("a", { href: "#/jobs" }, "← Jobs")), err, head, ssh, h("h2", {}, "Loss"), chart.canvas, h("h2", {}, "Pod logs"), logs, h("h2", {}, "Events"), events);
  let detail;
  const logsAttached = new Set();
  const render = async () => {
    try {
      detail = await api("GET", "/jobs/" + encodeURIComponent(id));
    } catch (e) {
      if (e.name !== "AbortError") err.replaceChildren(e.message);
      return;
    }
    const j = detail;
    const live = !["succeeded", "failed", "cancelled", "budget_exceeded", "timed_out"].includes(j.state);
    stop.disabled = !live || j.state.startsWith("tearing_down");
    head.replaceChildren(
      h("div", { class: "row" }, h("h1", { id: "job-name" }, j.name), live ? h("span", { class: "shrink" }, stop) : null),
      h(
        "div",
        { class: "card grid" },
        kv("State", stateCell(jobState(j))),
        kv("Why", j.reason || "—"),
        kv("GPU", j.gpu || "—"),
        kv("Elapsed", elapsed(j)),
        kv("Cost", h("span", { id: "cost-meter" }, costMeter(j.spent_usd, j.budget_usd))),
        kv("Attempts", String(j.attempts_made)),
      ),
      h("div", { class: "card" }, kv("Image", j.image || "—"), kv("Command", h("code", { id: "job-command" }, j.command || "—"))),
    );
    if (live) {
      api("GET", "/jobs/" + encodeURIComponent(id) + "/ssh")
        .then((s) => ssh.replaceChildren(h("div", { class: "card" }, kv("SSH", h("code", { id: "job-ssh" }, s.command)))))
        .catch((e) => {
          if (e.code === "not_ready") ssh.replaceChildren(h("div", { class: "card" }, kv("SSH", h("span", { id: "job-ssh-waiting" }, "waiting for the pod to boot"))));
          else if (e.name !== "AbortError") ssh.replaceChildren();
        });
    } else {
      ssh.replaceChildren();
    }
    // The current pod's lines live, each new attempt's as it comes; a finished job's kept
    // lines (every attempt's, with separators) once.
    // A multi-node job's log here is node 0's (the API numbers attempts per node).
    const mine = j.attempts.filter((a) => !a.node);
    let current = -1;
    mine.forEach((a, i) => { if (a.pod_id && ["created", "running"].includes(a.state)) current = i; });
    const want = current >= 0 ? "attempt=" + (current + 1) : live ? null : "all";
    if (want && !logsAttached.has(want) && !(want === "all" && logsAttached.size)) {
      logsAttached.add(want);
      if (current > 0) logs.append(`── attempt ${current + 1} of ${mine.length} ──\n`);
      const query = want === "all" ? "" : "?" + want;
      sse("/jobs/" + encodeURIComponent(id) + "/logs" + query, (ev) => {
        logs.append(ev.data + "\n");
        logs.scrollTop = logs.scrollHeight;
      }).catch(() => logsAttached.delete(want));
    }
  };
  stop.addEventListener("click", async () => {
    stop.disabled = true;
    try {
      await api("POST", "/jobs/" + encodeURIComponent(id) + "/stop");
    } catch (e) {
      err.replaceChildren(e.message);
    }
    render();
  });
  await render();
  // Points come from /metrics (a `metric` event announces only a batch's last point): read the
  // new ones after each announcement, one read at a time, each point once.
  let lastPoint = 0;
  let reading = Promise.resolve();
  const readPoints = () =>
    (reading = reading.then(async () => {
      try {
        for (const m of await api("GET", `/jobs/${encodeURIComponent(id)}/metrics?after=${lastPoint}`)) {
          chart.add(m.point);
          lastPoint = m.id;
        }
      } catch (e) { /* shown by render */ }
    }));
  await readPoints();
  sse("/jobs/" + encodeURIComponent(id) + "/events", (ev) => {
    const e = JSON.parse(ev.data);
    if (e.kind === "metric") {
      readPoints();
    } else {
      events.append(new Date(e.at).toLocaleTimeString() + "  " + e.message + "\n");
      render();
    }
  }).catch((e) => e.name !== "AbortError" && err.replaceChildren("live updates stopped: " + e.message));
  every(2000, render);
}

function kv(k, v) {
  return h("div", { class: "kv" }, h("div", { class: "k" }, k), h("div", { class: "v" }, v));
}

async function newJobPage() {
  const f = {
    name: h("input", { id: "name", required: true, placeholder: "finetune-llama" }),
    image: h("input", { id: "image", value: "runpod/pytorch:2.4.0-py3.11-cuda12.4.1-devel-ubuntu22.04" }),
    command: h("textarea", { id: "command", placeholder: "python train.py" }),
    vram: h("input", { id: "vram", type: "number", min: 1, value: 16 }),
    count: h("input", { id: "count", type: "number", min: 1, max: 8, value: 1 }),
    budget: h("input", { id: "budget", type: "number", min: 0.01, step: 0.01, value: 5 }),
    hours: h("input", { id: "hours", type: "number", min: 0.1, step: 0.1, value: 2 }),
    // Fine-tuning (podwarden writes the training script).
    model: h("input", { id: "ft-model", placeholder: "meta-llama/Llama-3.2-1B" }),
    dataset: h("input", { id: "ft-dataset", placeholder: "https://…/train.jsonl or data/train.jsonl on the volume" }),
    // Where the adapter is kept: a pod's own disk is destroyed at teardown.
    volume: h("select", { id: "ft-volume" }),
    textField: h("input", { id: "ft-text-field", value: "text" }),
    epochs: h("input", { id: "ft-epochs", type: "number", min: 0.1, step: 0.1, value: 3 }),
    quant: h("select", { id: "ft-quant" }, h("option", { value: "4bit" }, "4-bit (QLoRA)"), h("option", { value: "8bit" }, "8-bit"), h("option", { value: "none" }, "none")),
    rank: h("input", { id: "ft-rank", type: "number", min: 1, value: 16 }),
  };
  const kindCommand = h("input", { type: "radio", name: "kind", id: "kind-command", checked: true });
  const kindFinetune = h("input", { type: "radio", name: "kind", id: "kind-finetune" });
  const commandBox = h("div", { id: "command-box" }, h("label", { for: "command" }, "Command"), f.command);
  const finetuneBox = h(
    "div",
    { id: "finetune-box", hidden: true },
    h("div", { class: "row" }, h("div", {}, h("label", { for: "ft-model" }, "Model (Hugging Face id)"), f.model), h("div", {}, h("label", { for: "ft-dataset" }, "Dataset: URL or path on the volume (JSON / JSON Lines)"), f.dataset)),
    h("label", { for: "ft-volume" }, "Network volume (the adapter is saved to it)"), f.volume,
    h("div", { class: "row" }, h("div", {}, h("label", { for: "ft-text-field" }, "Text field"), f.textField), h("div", {}, h("label", { for: "ft-epochs" }, "Epochs"), f.epochs),
      h("div", {}, h("label", { for: "ft-quant" }, "Quantization"), f.quant), h("div", {}, h("label", { for: "ft-rank" }, "LoRA rank"), f.rank)),
    h("p", { class: "muted" }, "podwarden writes the training script: LoRA targets detected from the architecture, loss posted live to this page, the adapter saved on the volume under adapters/<name> (fetch it with podwarden cp)."),
  );
  api("GET", "/volumes")
    .then((vols) => {
      const ready = vols.filter((v) => v.state === "ready");
      f.volume.replaceChildren(...ready.map((v) => h("option", { value: v.name }, `${v.name} (${v.data_center}, ${v.size_gb} GB)`)));
      if (!ready.length) f.volume.replaceChildren(h("option", { value: "" }, "no volume: create one on the Volumes page"));
    })
    .catch(() => f.volume.replaceChildren(h("option", { value: "" }, "volumes could not be listed")));
  const paintKind = () => {
    commandBox.hidden = kindFinetune.checked;
    finetuneBox.hidden = !kindFinetune.checked;
  };
  kindCommand.addEventListener("change", paintKind);
  kindFinetune.addEventListener("change", paintKind);
  const gpus = h("tbody");
  const gpuHead = h("tr", {}, ["", "GPU", "Memory", "Cloud", "Price", "Availability"].map((c) => h("th", {}, c)));
  const estimate = h("div", { class: "estimate", id: "estimate" }, "Pick a GPU to see the estimate.");
  const err = errorBox();
  let offers = [];
  let chosen = 0;
  // The server's estimate (`POST /estimate`, the CLI's too) of the spec Launch would send; an
  // answer to an older form is dropped.
  let asked = 0;
  const updateEstimate = async () => {
    const o = offers[chosen];
    if (!o) return estimate.replaceChildren("No GPU with that much memory has stock right now.");
    const n = ++asked;
    // What is priced is the placement and the limits; any valid name and command will do.
    const spec = { ...buildSpec(), name: "estimate", image: f.image.value.trim() || "python:3.11-slim", command: "true" };
    delete spec.finetune;
    delete spec.network_volume;
    let e;
    try {
      e = await api("POST", "/estimate", spec);
    } catch (x) {
      if (n === asked) estimate.replaceChildren("No estimate: ", x.message);
      return;
    }
    if (n !== asked) return;
    const bounded = e.bound !== "none";
    estimate.replaceChildren(
      bounded ? "Estimated cost: at most " : "Estimated cost: ",
      h("strong", { id: "estimate-cost" }, bounded ? usd(e.max_cost_usd) : usd(e.price_per_hour_usd) + "/h"),
      ` — ${e.count}× ${e.name} (${e.cloud}) at ${usd(e.price_per_hour_usd)}/h, a typical ${Math.round(e.boot_s / 60)} min boot (${usd(e.boot_cost_usd)}) included`,
      e.bound === "budget" ? `; the job is stopped at its ${usd(e.max_cost_usd)} budget` : e.bound === "max_runtime" ? "; its max runtime ends it" : "; nothing bounds it",
    );
  };
  const loadGpus = async () => {
    try {
      offers = await api("GET", `/gpus?min_vram_gb=${Number(f.vram.value) || 1}&count=${Number(f.count.value) || 1}`);
    } catch (e) {
      return err.replaceChildren(e.message);
    }
    chosen = 0;
    // Whose offer, once the server has a second provider (AWS's instance types beside RunPod's GPUs).
    const providers = offers.some((o) => o.provider && o.provider !== "runpod");
    gpuHead.replaceChildren(...["", ...(providers ? ["Provider"] : []), "GPU", "Memory", "Cloud", "Price", "Availability"].map((c) => h("th", {}, c)));
    gpus.replaceChildren(
      ...offers.slice(0, 30).map((o, i) =>
        h(
          "tr",
          {},
          h("td", {}, h("input", { type: "radio", name: "gpu", value: String(i), checked: i === 0, onchange: () => ((chosen = i), updateEstimate()) })),
          ...(providers ? [h("td", {}, o.provider || "runpod")] : []),
          h("td", {}, o.name), h("td", {}, o.vram_gb + " GB"), h("td", {}, o.cloud),
          h("td", {}, usd(o.price_per_hour_usd) + "/h"),
          h("td", {}, o.data_centers.length ? `${o.data_centers.length} data center${o.data_centers.length > 1 ? "s" : ""}` : "no stock"),
        ),
      ),
    );
    updateEstimate();
  };
  for (const k of ["vram", "count"]) f[k].addEventListener("change", loadGpus);
  for (const k of ["hours", "budget"]) f[k].addEventListener("input", updateEstimate);
  const form = h(
    "form",
    { class: "stack card", id: "new-job" },
    h("h1", {}, "New job"),
    h("label", { for: "name" }, "Name"), f.name,
    h("label", { for: "image" }, "Image"), f.image,
    h("div", { class: "choice" }, h("label", {}, kindCommand, "Run a command"), h("label", {}, kindFinetune, "Fine-tune a model (LoRA)")),
    commandBox,
    finetuneBox,
    h("div", { class: "row" }, h("div", {}, h("label", { for: "vram" }, "Min GPU memory (GB)"), f.vram), h("div", {}, h("label", { for: "count" }, "GPUs"), f.count)),
    h("label", {}, "GPU (live prices; cheapest first)"),
    h("table", { id: "gpus" }, h("thead", {}, gpuHead), gpus),
    h("div", { class: "row" }, h("div", {}, h("label", { for: "budget" }, "Budget (USD)"), f.budget), h("div", {}, h("label", { for: "hours" }, "Max runtime (hours)"), f.hours)),
    estimate,
    err,
    h("button", { type: "submit", id: "launch" }, "Launch"),
  );
  function buildSpec() {
    const o = offers[chosen];
    const name = f.name.value.trim();
    const dataset = f.dataset.value.trim();
    const fromUrl = /^https?:\/\//.test(dataset);
    return {
      name,
      image: f.image.value.trim(),
      ...(kindFinetune.checked
        ? {
            network_volume: f.volume.value || undefined,
            finetune: {
              model: f.model.value.trim(),
              ...(fromUrl ? { dataset_url: dataset } : { dataset_path: "/workspace/" + dataset.replace(/^\/+(workspace\/)?/, "") }),
              output_dir: `/workspace/adapters/${name}`,
              text_field: f.textField.value.trim() || "text",
              epochs: Number(f.epochs.value) || 3,
              quantization: f.quant.value,
              lora: { r: Number(f.rank.value) || 16 },
            },
          }
        : { command: f.command.value }),
      // An AWS offer is an instance type on AWS (its "cloud" is on-demand, not RunPod's tier).
      ...(o && o.provider === "aws" ? { provider: "aws" } : { cloud: o ? o.cloud : "any" }),
      gpu: o ? { types: [o.gpu_type], count: Number(f.count.value) || 1 } : { min_vram_gb: Number(f.vram.value) || 1 },
      limits: { budget_usd: Number(f.budget.value) || undefined, max_runtime: `${Math.round((Number(f.hours.value) || 1) * 60)}m` },
    };
  }
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const spec = buildSpec();
    try {
      const job = await api("POST", "/jobs", spec);
      location.hash = "#/jobs/" + encodeURIComponent(job.id);
    } catch (x) {
      showError(err, x);
    }
  });
  show(form);
  await loadGpus();
}

async function settingsPage() {
  const err = errorBox();
  const status = h("div", { id: "key-status" });
  const key = h("input", { id: "api-key", type: "password", autocomplete: "off", placeholder: "rpa_…" });
  const showKey = h("input", { type: "checkbox", id: "show-key", onchange: () => (key.type = showKey.checked ? "text" : "password") });
  const hosted = h("input", { type: "radio", name: "backend", value: "hosted", id: "backend-hosted" });
  const byok = h("input", { type: "radio", name: "backend", value: "runpod", id: "backend-runpod" });
  const keyBox = h("div", { id: "byok" });
  const estimate = h("p", { id: "experiment-estimate", class: "muted" });
  const save = h("button", { type: "submit", id: "save-key" }, "Save & verify");
  const remove = h("button", { type: "button", class: "secondary", id: "remove-key" }, "Remove key");
  let current;
  const paint = () => {
    const saved = current && current.backend === "runpod";
    // Through h(): replaceChildren itself would print a missing part as the text "null".
    status.replaceChildren(h("div", {},
      saved
        ? h("div", { class: "ok" }, `Key saved (ending in ${current.last4}) · endpoint: ${current.endpoint_status}`)
        : h("div", { class: "muted" }, "Using the operator's hosted compute."),
      current && current.spend_cap_usd !== null && current.spend_cap_usd !== undefined
        ? h("div", { class: "muted", id: "spend-cap" }, `Hosted spend cap: ${usd(current.spend_cap_usd)} (${usd(current.hosted_committed_usd)} spent or reserved by running jobs)`)
        : null,
    ));
    remove.hidden = !saved;
    keyBox.hidden = !byok.checked;
  };
  hosted.addEventListener("change", paint);
  byok.addEventListener("change", paint);
  keyBox.append(
    h("label", { for: "api-key" }, "RunPod API key"),
    h("div", { class: "row" }, key, h("label", { class: "shrink" }, showKey, " show")),
    h("div", { class: "row" }, h("span", { class: "shrink" }, save), h("span", { class: "shrink" }, remove)),
  );
  const form = h(
    "form",
    { class: "stack card", id: "compute" },
    h("h1", {}, "Settings → Compute"),
    h("div", { class: "choice" }, h("label", {}, hosted, "Hosted (the operator's RunPod account)"), h("label", {}, byok, "Bring your own RunPod key")),
    keyBox,
    status,
    err,
    estimate,
    h(
      "p",
      { class: "muted", id: "key-note" },
      "What podwarden does with your key: it checks it against RunPod (it must work and the account must have funds), " +
        "stores it encrypted (AES-256-GCM under the server's secret), and uses it only to create, watch and delete the " +
        "pods and endpoints of your jobs. It is never shown again — only its last 4 characters — and never logged. " +
        "Removing it deletes it and returns you to hosted compute.",
    ),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    save.disabled = true;
    save.textContent = "Verifying…";
    try {
      current = await api("POST", "/settings/runpod-key", { api_key: key.value });
      key.value = "";
      err.replaceChildren();
    } catch (x) {
      showError(err, x);
    }
    save.disabled = false;
    save.textContent = "Save & verify";
    paint();
  });
  remove.addEventListener("click", async () => {
    current = await api("DELETE", "/settings/runpod-key");
    hosted.checked = true;
    paint();
  });
  // Shown only once the saved state is known: a toggle clicked during the load must not be
  // overwritten by it.
  current = await api("GET", "/settings/runpod-key");
  (current.backend === "runpod" ? byok : hosted).checked = true;
  paint();
  show(form);
  // A server with AWS on: the user's own AWS key pair (409 no_provider without AWS: no card).
  try {
    form.after(awsKeyCard(await api("GET", "/settings/aws-key")));
  } catch (x) { /* no AWS on this server */ }
  try {
    // The server's estimate, as the CLI's `run --estimate` shows it.
    const spec = { name: "experiment", image: "python:3.11-slim", command: "true", gpu: { min_vram_gb: 24 }, limits: { max_runtime: "1h" } };
    const e = await api("POST", "/estimate", spec);
    estimate.replaceChildren(`At current prices, a 1-hour experiment on the cheapest 24 GB GPU (${e.name}, ${e.cloud}) costs at most ${usd(e.max_cost_usd)}, its ${Math.round(e.boot_s / 60)} min boot included.`);
  } catch (e) { /* the estimate is optional */ }
}

/** Settings → AWS: the user's own AWS key pair, checked by AWS and kept sealed (its id's last 4
 *  characters are all that is shown again). */
function awsKeyCard(initial) {
  let current = initial;
  const err = errorBox();
  const status = h("div", { id: "aws-key-status" });
  const id = h("input", { id: "aws-key-id", autocomplete: "off", placeholder: "AKIA…" });
  const secret = h("input", { id: "aws-secret", type: "password", autocomplete: "off" });
  const save = h("button", { type: "submit", id: "save-aws-key" }, "Save & verify");
  const remove = h("button", { type: "button", class: "secondary", id: "remove-aws-key" }, "Remove key");
  const paint = () => {
    status.replaceChildren(
      current.saved
        ? h("div", { class: "ok" }, `AWS key saved (ending in ${current.access_key_id_last4}): your AWS jobs run on your account`)
        : h("div", { class: "muted" }, "Your AWS jobs run on the operator's AWS account."),
    );
    remove.hidden = !current.saved;
  };
  const card = h(
    "form",
    { class: "stack card", id: "aws-compute" },
    h("h2", {}, "Settings → AWS"),
    h("div", { class: "row" }, h("div", {}, h("label", { for: "aws-key-id" }, "Access key id"), id), h("div", {}, h("label", { for: "aws-secret" }, "Secret access key"), secret)),
    h("div", { class: "row" }, h("span", { class: "shrink" }, save), h("span", { class: "shrink" }, remove)),
    status,
    err,
    h("p", { class: "muted" }, "An IAM user's key with the policy of docs/providers/aws.md. It is checked with AWS, stored encrypted, used only for your AWS jobs' instances, and never shown again."),
  );
  card.addEventListener("submit", async (e) => {
    e.preventDefault();
    save.disabled = true;
    try {
      current = await api("POST", "/settings/aws-key", { access_key_id: id.value.trim(), secret_access_key: secret.value.trim() });
      id.value = "";
      secret.value = "";
      err.replaceChildren();
    } catch (x) {
      showError(err, x);
    }
    save.disabled = false;
    paint();
  });
  remove.addEventListener("click", async () => {
    current = await api("DELETE", "/settings/aws-key");
    paint();
  });
  paint();
  return card;
}

function table(id, headers, rows) {
  return h("table", { id }, h("thead", {}, h("tr", {}, headers.map((c) => h("th", {}, c)))), h("tbody", {}, rows));
}

function barRow(label, amount, max) {
  const bar = h("span", { class: "bar" });
  bar.style.width = Math.max(2, (200 * amount) / (max || 1)) + "px";
  return h("tr", {}, h("td", {}, label), h("td", {}, usd(amount)), h("td", {}, bar));
}

async function costsPage() {
  const c = await api("GET", "/cost");
  // The ledger against RunPod's bill (admins; others get 403 and see nothing).
  const r = await api("GET", "/cost/reconciliation").catch(() => null);
  // Pods another podwarden install named on this account bill unnoticed otherwise (admins).
  const strays = r ? await api("GET", "/strays").catch(() => null) : null;
  // What the background tasks did last (admins).
  const tasks = r ? await api("GET", "/admin/tasks").catch(() => null) : null;
  const max = (xs) => Math.max(0, ...xs.map((x) => x[x.length - 1]));
  show(
    h("h1", {}, "Costs"),
    h("div", { class: "card" }, kv("Total", h("span", { id: "cost-total" }, usd(c.total_usd))), c.simulated ? h("p", { class: "muted" }, "Simulated costs (embedded emulator).") : null,
      r ? h("p", { id: "reconciliation", class: "muted" },
        r.checks.length
          ? `Checked against RunPod's bill: ${r.checks.length} pods, ${r.mismatches} differed; the ledger had over-counted ${usd(r.overcounted_usd)} and was corrected to the bill.`
          : "No pod checked against RunPod's bill yet (a pod is checked 15 minutes after it ends; `podwarden cost --reconcile` checks now).") : null,
      strays ? h("p", { id: "strays", class: strays.length ? "error" : "muted" },
        strays.length
          ? `${strays.length} pod(s) of other podwarden installs are on this RunPod account (${[...new Set(strays.map((x) => x.install))].join(", ")}), costing ${usd(strays.reduce((a, x) => a + x.cost_per_hour_usd, 0))}/h; ` +
            "if no podwarden of yours runs as that install, terminate them: POST /api/v1/strays/reap."
          : "No pod of another podwarden install on this RunPod account.") : null),
    tasks ? h("h2", {}, "Background tasks") : null,
    tasks ? table("tasks", ["Task", "Account", "Last run", "Took", "Actions", "Result"], tasks.map((t) => h("tr", {},
      h("td", {}, t.task), h("td", {}, t.account), h("td", {}, new Date(t.last_started_at).toLocaleTimeString()),
      h("td", {}, `${t.last_duration_ms} ms`), h("td", {}, String(t.actions)),
      h("td", { class: t.ok ? "" : "error" }, t.ok ? `ok (${t.runs} runs, ${t.failures} with errors)` : t.errors.join("; "))))) : null,
    h("h2", {}, "Per day"),
    table("cost-by-day", ["Day", "Spend", ""], c.by_day.map(([d, v]) => barRow(d, v, max(c.by_day)))),
    h("h2", {}, "Per GPU type"),
    table("cost-by-gpu", ["GPU", "Spend", ""], c.by_gpu.map(([g, v]) => barRow(g, v, max(c.by_gpu)))),
    h("h2", {}, "Per job"),
    table(
      "cost-by-job",
      ["Job", "Spend", ""],
      c.by_job.map(([id, name, v]) => {
        const row = barRow(name || id, v, max(c.by_job));
        if (!id.startsWith("req_")) row.firstChild.replaceChildren(h("a", { href: "#/jobs/" + encodeURIComponent(id) }, name || id));
        return row;
      }),
    ),
  );
}

/** Volumes: the user's network volumes, where their files live between jobs. */
async function volumesPage() {
  const vs = await api("GET", "/volumes");
  const monthly = vs.reduce((a, v) => a + v.monthly_usd, 0);
  show(
    h("h1", {}, "Volumes"),
    h("p", { class: "muted" }, "Network volumes keep files between jobs; pods see them at /workspace, serverless workers at /runpod-volume. " +
      "Create with `podwarden volume create NAME --data-center DC`; copy files with `podwarden cp`."),
    table(
      "volumes",
      ["Name", "State", "Volume id", "Data center", "Size", "USD/month", "Backend"],
      vs.map((v) => h("tr", {}, h("td", { class: "name" }, v.name), h("td", {}, v.state), h("td", {}, v.volume_id || "–"),
        h("td", {}, v.data_center), h("td", {}, v.size_gb + " GB"), h("td", {}, usd(v.monthly_usd)), h("td", {}, v.backend))),
    ),
    vs.length ? h("p", { class: "muted", id: "volumes-total" }, "Storage: " + usd(monthly) + " a month.") : h("p", { class: "muted" }, "No volumes yet."),
  );
}

/** Users (admin): create users (their first token is shown once) and set hosted spend caps. */
async function usersPage() {
  const body = h("tbody");
  const err = errorBox();
  const created = h("div", { id: "new-user-token" });
  const name = h("input", { id: "new-user-name", placeholder: "alice" });
  const load = async () => {
    const users = await api("GET", "/users");
    body.replaceChildren(
      ...users.map((u) => {
        const cap = h("input", { type: "number", min: 0, step: 0.01, class: "cap", value: u.spend_cap_usd ?? "", placeholder: "no cap", "aria-label": `hosted spend cap of ${u.name}` });
        const save = h("button", { class: "secondary", type: "button" }, "Set");
        save.addEventListener("click", async () => {
          try {
            await api("PATCH", "/users/" + encodeURIComponent(u.id), { spend_cap_usd: cap.value === "" ? null : Number(cap.value) });
            err.replaceChildren();
            await load();
          } catch (x) {
            showError(err, x);
          }
        });
        return h(
          "tr",
          { dataset: { user: u.name } },
          h("td", {}, u.name),
          h("td", {}, u.is_admin ? "admin" : "user"),
          h("td", { class: "cap-now" }, u.spend_cap_usd === null || u.spend_cap_usd === undefined ? "no cap" : usd(u.spend_cap_usd)),
          h("td", {}, h("div", { class: "row" }, cap, h("span", { class: "shrink" }, save))),
        );
      }),
    );
  };
  const form = h("form", { class: "row", id: "new-user" }, name, h("span", { class: "shrink" }, h("button", { type: "submit" }, "Create user")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const t = await api("POST", "/users", { name: name.value.trim() });
      name.value = "";
      err.replaceChildren();
      created.replaceChildren(
        h("div", { class: "ok" }, `User ${t.user.name} created. Their token, shown this once — hand it over now:`),
        h("code", { id: "new-token" }, t.token),
      );
      await load();
    } catch (x) {
      showError(err, x);
    }
  });
  await load();
  show(
    h("h1", {}, "Users"),
    h("div", { class: "card" }, form, created, err),
    h("table", { id: "users" }, h("thead", {}, h("tr", {}, ["Name", "Role", "Hosted spend cap", "Change cap (USD)"].map((c) => h("th", {}, c)))), body),
    h("p", { class: "muted" }, "A user with their own RunPod key (Settings → Compute) runs on their account; the cap limits only hosted compute."),
  );
}

// ---- routing -------------------------------------------------------------------------------

async function route() {
  page.abort.abort();
  page.timers.forEach(clearInterval);
  page = { abort: new AbortController(), timers: [] };
  const signedIn = !!token();
  document.getElementById("nav").hidden = !signedIn;
  document.getElementById("logout").hidden = !signedIn;
  if (!signedIn) return loginPage();
  if (!document.getElementById("who").textContent) whoami();
  const [, name, arg] = (location.hash || "#/jobs").split("/");
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.page === name);
  try {
    if (name === "jobs" && arg) await jobPage(decodeURIComponent(arg));
    else if (name === "new") await newJobPage();
    else if (name === "settings") await settingsPage();
    else if (name === "costs") await costsPage();
    else if (name === "volumes") await volumesPage();
    else if (name === "users") await usersPage();
    else await jobsPage();
  } catch (e) {
    if (e.name !== "AbortError" && e.status !== 401) show(errorBox(e));
  }
}

async function whoami() {
  try {
    const [me, st] = await Promise.all([api("GET", "/me"), api("GET", "/status")]);
    document.getElementById("who").textContent = me.name;
    document.getElementById("nav-users").hidden = !me.is_admin;
    document.getElementById("sim").hidden = !st.simulated;
  } catch (e) { /* an invalid token sends route() to the login */ }
}

function start() {
  document.getElementById("logout").addEventListener("click", () => {
    sessionStorage.removeItem("podwarden-token");
    document.getElementById("who").textContent = "";
    document.getElementById("nav-users").hidden = true;
    document.getElementById("sim").hidden = true;
    route();
  });
  window.addEventListener("hashchange", route);
  route();
}

start();
