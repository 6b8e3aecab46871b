// A web tier's calls to the intake, typed by the generated `schema.d.ts`
// (npm run generate, from the app's /openapi.json). `tsc` rejects a wrong kind, a payload of
// another kind, a misspelt field, or reading a field a response does not have.
import type { components, paths } from "./schema";

type Schemas = components["schemas"];
export type JobRequest = paths["/v1/jobs"]["post"]["requestBody"]["content"]["application/json"];
export type JobAccepted = paths["/v1/jobs"]["post"]["responses"][202]["content"]["application/json"];
export type ApiError = Schemas["ErrorEnvelope"];

export async function enqueue(base: string, apiKey: string, job: JobRequest, key: string): Promise<JobAccepted> {
  const r = await fetch(`${base}/v1/jobs`, {
    method: "POST",
    headers: { Authorization: `Bearer ${apiKey}`, "Content-Type": "application/json", "Idempotency-Key": key },
    body: JSON.stringify(job),
  });
  if (!r.ok) {
    const err = (await r.json()) as ApiError;
    throw new Error(`${r.status} ${err.error.code}: ${err.error.message}`);
  }
  return (await r.json()) as JobAccepted;
}

// the union narrows on `kind`: each kind takes its own payload
export const transcode: JobRequest = { kind: "transcode", payload: { asset_id: "a1", ladder: [720, 360] } };
export const ping: JobRequest = { kind: "ping", payload: { echo: "hi", sleep: 0.5 } };
export const submission: Schemas["NewSubmission"] = {
  exercise_id: "ex-fizzbuzz", user_id: "u-1", language: "python", code: "print(1)",
};

export function describe(accepted: JobAccepted): string {
  const job: Schemas["Job"] = accepted.job;
  const done: boolean = ["succeeded", "failed", "dead_lettered", "cancelled"].includes(job.state);
  return `${job.kind} ${job.id} is ${job.state}${done ? "" : ` (${job.progress}%)`}; follow ${accepted.links.events}`;
}

export function verdict(view: Schemas["SubmissionView"]): string {
  return `${view.submission.verdict ?? "pending"} ${view.submission.score ?? 0}/100`;
}
