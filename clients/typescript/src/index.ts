/**
 * podwarden's TypeScript client: the API's types, generated from docs/openapi.json
 * (`src/schema.d.ts`, by openapi-typescript via scripts/gen-clients), and a small fetch wrapper
 * with the verbs an app needs — submit a job or a serverless request, follow its events (SSE,
 * resumed after the last event seen when the connection drops), wait for the end, read
 * metrics, logs and cost, manage the user's own RunPod key. Errors are `PodwardenError`s with
 * the API's code, message and hint. Works wherever `fetch` does (Node 20+, browsers, Deno).
 */

import { createParser, type EventSourceMessage } from "eventsource-parser";
import type { components } from "./schema.js";

export type { components, paths, operations } from "./schema.js";

type S = components["schemas"];
export type JobSpec = S["JobSpec"];
export type JobDetail = S["JobDetail"];
export type JobSummary = S["JobSummary"];
export type ServerlessJobView = S["ServerlessJobView"];
export type EndpointSpec = S["EndpointSpec"];
export type EndpointView = S["EndpointView"];
export type DeployResult = S["DeployResult"];
export type CostReport = S["CostReport"];
export type ComputeSettings = S["ComputeSettings"];
export type UserView = S["UserView"];
export type ErrorBody = S["ErrorBody"];
export type SshInfo = S["SshInfo"];

/** One event of a job or serverless request. */
export interface PodwardenEvent {
  id: number;
  kind: string;
  message: string;
  at: number;
  data?: unknown;
}

/** An error answer from podwarden (`status` 0: no answer at all). */
export class PodwardenError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly hint?: string,
    /** Seconds to wait before retrying (429, 503). */
    readonly retryAfter?: number,
  ) {
    super(hint ? `${message} (${code}, HTTP ${status}); hint: ${hint}` : `${message} (${code}, HTTP ${status})`);
    this.name = "PodwardenError";
  }
}

/** How a request is made. */
interface SendInit {
  body?: unknown;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export interface Options {
  /** A fetch to use instead of the global one. */
  fetch?: typeof fetch;
}

/** The API's collection for a work id: serverless requests are `req_…`. */
const kindOf = (id: string) => (id.startsWith("req_") ? "requests" : "jobs");

export class Podwarden {
  readonly url: string;
  #token: string;
  #fetch: typeof fetch;

  /** A podwarden server (e.g. `http://127.0.0.1:8711`), called with one user's API token. */
  constructor(url: string, token: string, options: Options = {}) {
    this.url = url.replace(/\/+$/, "");
    this.#token = token;
    this.#fetch = options.fetch ?? globalThis.fetch;
  }

  /** Never the token. */
  toJSON() {
    return { url: this.url };
  }

  async #send(method: string, path: string, init: SendInit = {}): Promise<Response> {
    const u = new URL(this.url + path);
    for (const [k, v] of Object.entries(init.query ?? {})) u.searchParams.set(k, v);
    const headers: Record<string, string> = { Authorization: `Bearer ${this.#token}`, ...init.headers };
    if (init.body !== undefined) headers["Content-Type"] = "application/json";
    let r: Response;
    try {
      r = await this.#fetch(u, { method, headers, body: init.body === undefined ? undefined : JSON.stringify(init.body), signal: init.signal });
    } catch (e) {
      throw new PodwardenError(0, "unreachable", `cannot reach ${this.url}: ${(e as Error).message}`, "is `podwarden serve` running there?");
    }
    if (r.status >= 400) {
      const text = await r.text();
      const retry = Number(r.headers.get("retry-after")) || undefined;
      try {
        const b = JSON.parse(text) as ErrorBody;
        throw new PodwardenError(r.status, b.code, b.message, b.hint ?? undefined, retry);
      } catch (e) {
        if (e instanceof PodwardenError) throw e;
        throw new PodwardenError(r.status, "unexpected", text.slice(0, 500), undefined, retry);
      }
    }
    return r;
  }

  async #json<T>(method: string, path: string, init: SendInit = {}): Promise<T> {
    return (await (await this.#send(method, path, init)).json()) as T;
  }

  // --- pod jobs ---

  /** Submits a job spec (docs/job-spec.md); the server's validation names any wrong field. */
  submitJob(spec: JobSpec): Promise<JobDetail> {
    return this.#json("POST", "/api/v1/jobs", { body: spec });
  }
  job(id: string): Promise<JobDetail> {
    return this.#json("GET", `/api/v1/jobs/${encodeURIComponent(id)}`);
  }
  jobs(limit = 50): Promise<JobSummary[]> {
    return this.#json("GET", "/api/v1/jobs", { query: { limit: String(limit) } });
  }
  /** Stops a job (its pod is terminated) or cancels a serverless request. */
  stop(id: string): Promise<JobDetail | ServerlessJobView> {
    const kind = kindOf(id);
    return this.#json("POST", `/api/v1/${kind}/${encodeURIComponent(id)}/stop`, { body: {} });
  }
  /**
   * Where to reach a job's pod over SSH (a job submitted with `ssh`): host, port, user and the
   * ssh command. Waits while the pod boots (the server answers `not_ready`), up to `timeoutMs`
   * (then `PodwardenError` `timeout`); the pod's sshd may still be starting, so retry a refused
   * first connection.
   */
  async sshInfo(id: string, options: { node?: number; timeoutMs?: number } = {}): Promise<SshInfo> {
    const deadline = Date.now() + (options.timeoutMs ?? 900_000);
    for (;;) {
      try {
        return await this.#json("GET", `/api/v1/jobs/${encodeURIComponent(id)}/ssh`, { query: { node: String(options.node ?? 0) } });
      } catch (e) {
        if (!(e instanceof PodwardenError) || e.code !== "not_ready") throw e;
        if (Date.now() >= deadline) throw new PodwardenError(0, "timeout", `${id}: ${e.message}`, "the pod is still booting; ask again");
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }
  /** The job's metric points as stored: `[{at, point: {step, loss, …}}, …]`. */
  metrics(id: string): Promise<Array<{ at: number; point: Record<string, unknown> }>> {
    return this.#json("GET", `/api/v1/jobs/${encodeURIComponent(id)}/metrics`);
  }
  /** `[step, value]` of one metric, in order: what a loss chart plots. */
  async losses(id: string, name = "loss"): Promise<Array<[number, number]>> {
    const out: Array<[number, number]> = [];
    (await this.metrics(id)).forEach((p, i) => {
      const v = p.point?.[name];
      if (typeof v === "number") out.push([typeof p.point.step === "number" ? p.point.step : i, v]);
    });
    return out;
  }
  /**
   * The pod's log lines as they come (ends when the job has no pod). `node`: which pod of a
   * multi-node job (0, rank 0, by default); a node the job does not have is a 422.
   */
  async *logs(id: string, options: { node?: number; signal?: AbortSignal } | AbortSignal = {}): AsyncGenerator<string> {
    const { node, signal } = options instanceof AbortSignal ? { node: undefined, signal: options } : options;
    const query: Record<string, string> = node === undefined ? {} : { node: String(node) };
    const r = await this.#send("GET", `/api/v1/jobs/${encodeURIComponent(id)}/logs`, { headers: { Accept: "text/event-stream" }, signal, query });
    for await (const m of sse(r)) yield m.data;
  }

  // --- serverless ---

  /** Sends `input` to one of the user's endpoints; with `sync`, waits for the result. */
  submitRequest(endpoint: string, input: unknown, options: { sync?: boolean } = {}): Promise<ServerlessJobView> {
    return this.#json("POST", "/api/v1/requests", { body: { endpoint, input }, query: { sync: String(options.sync ?? false) } });
  }
  request(id: string): Promise<ServerlessJobView> {
    return this.#json("GET", `/api/v1/requests/${encodeURIComponent(id)}`);
  }
  deployEndpoint(spec: EndpointSpec): Promise<DeployResult> {
    return this.#json("POST", "/api/v1/endpoints", { body: spec });
  }
  removeEndpoint(name: string): Promise<EndpointView> {
    return this.#json("DELETE", `/api/v1/endpoints/${encodeURIComponent(name)}`);
  }

  // --- following ---

  async #ended(id: string): Promise<boolean> {
    return typeof (await this.#work(id)).ended_at === "number";
  }

  /** A job or a serverless request, as it stands. */
  #work(id: string): Promise<JobDetail | ServerlessJobView> {
    return kindOf(id) === "requests" ? this.request(id) : this.job(id);
  }

  async *#stored(id: string, after: number): AsyncGenerator<PodwardenEvent> {
    const kind = kindOf(id);
    for (;;) {
      const rows: PodwardenEvent[] = await this.#json("GET", `/api/v1/${kind}/${encodeURIComponent(id)}/events`, { query: { after: String(after), wait_ms: "0" } });
      if (rows.length === 0) return;
      for (const r of rows) {
        after = r.id;
        yield r;
      }
    }
  }

  /**
   * A job's or request's events over SSE, after event `after`. A dropped connection is
   * reopened with `Last-Event-ID`, so no event is missed or repeated. With `stopAtEnd`
   * (default) it ends once the work has ended.
   */
  async *events(id: string, options: { after?: number; stopAtEnd?: boolean; signal?: AbortSignal } = {}): AsyncGenerator<PodwardenEvent> {
    const kind = kindOf(id);
    const stopAtEnd = options.stopAtEnd ?? true;
    let last = options.after ?? 0;
    let failures = 0;
    for (;;) {
      const ctl = new AbortController();
      options.signal?.addEventListener("abort", () => ctl.abort(), { once: true });
      try {
        const headers: Record<string, string> = { Accept: "text/event-stream" };
        if (last) headers["Last-Event-ID"] = String(last);
        const r = await this.#send("GET", `/api/v1/${kind}/${encodeURIComponent(id)}/events`, { headers, signal: ctl.signal });
        if (stopAtEnd && (await this.#ended(id))) {
          ctl.abort();
          yield* this.#stored(id, last);
          return;
        }
        for await (const m of sse(r)) {
          failures = 0;
          const ev = toEvent(m);
          last = ev.id;
          yield ev;
          if (stopAtEnd && ev.kind === "state" && (await this.#ended(id))) {
            ctl.abort();
            yield* this.#stored(id, last);
            return;
          }
        }
      } catch (e) {
        if (e instanceof PodwardenError && e.status !== 0) throw e;
        if (options.signal?.aborted) return;
        if (++failures > 5) throw e instanceof PodwardenError ? e : new PodwardenError(0, "unreachable", String(e));
        await new Promise((ok) => setTimeout(ok, Math.min(200 * 2 ** failures, 5000)));
      } finally {
        ctl.abort();
      }
    }
  }

  /** Follows a job or request until it ends; it, as it ended. Rejects after `timeoutMs`. */
  async wait(id: string, options: { timeoutMs?: number } = {}): Promise<JobDetail | ServerlessJobView> {
    const ctl = new AbortController();
    const timer = options.timeoutMs ? setTimeout(() => ctl.abort(), options.timeoutMs) : undefined;
    try {
      for await (const _ of this.events(id, { signal: ctl.signal })) {
        /* drained */
      }
      if (ctl.signal.aborted) throw new PodwardenError(0, "timeout", `${id} did not end within ${options.timeoutMs} ms`, "the work goes on; stop() ends it");
    } finally {
      clearTimeout(timer);
    }
    return this.#work(id);
  }

  // --- money and keys ---

  cost(): Promise<CostReport> {
    return this.#json("GET", "/api/v1/cost");
  }
  me(): Promise<UserView> {
    return this.#json("GET", "/api/v1/me");
  }
  /** Which backend the user computes on (only the key's last 4 characters), cap and commitments. */
  runpodKey(): Promise<ComputeSettings> {
    return this.#json("GET", "/api/v1/settings/runpod-key");
  }
  /** Saves the user's own RunPod key (checked against RunPod, stored sealed). */
  setRunpodKey(apiKey: string): Promise<ComputeSettings> {
    return this.#json("POST", "/api/v1/settings/runpod-key", { body: { api_key: apiKey } });
  }
  deleteRunpodKey(): Promise<ComputeSettings> {
    return this.#json("DELETE", "/api/v1/settings/runpod-key");
  }
}

/** The SSE messages of a response body. */
async function* sse(r: Response): AsyncGenerator<EventSourceMessage> {
  const queue: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (m) => queue.push(m) });
  const decoder = new TextDecoder();
  const reader = r.body!.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      parser.feed(decoder.decode(value, { stream: true }));
      while (queue.length) yield queue.shift()!;
    }
  } finally {
    reader.releaseLock();
  }
}

function toEvent(m: EventSourceMessage): PodwardenEvent {
  let d: Partial<PodwardenEvent> = {};
  try {
    d = JSON.parse(m.data);
  } catch {
    d = { message: m.data };
  }
  return { id: Number(m.id ?? d.id ?? 0), kind: m.event ?? d.kind ?? "message", message: d.message ?? "", at: d.at ?? 0, data: d.data };
}
