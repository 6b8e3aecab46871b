// Lines tsc must refuse (each one names the error it expects); checked by the test suite, not
// compiled with the example.
import type { components } from "./schema";
type JobRequest = components["schemas"]["JobRequest"];

// @ts-expect-error a transcode's payload needs asset_id
export const missing: JobRequest = { kind: "transcode", payload: {} };
// @ts-expect-error ping has no field "asset_id"
export const otherKinds: JobRequest = { kind: "ping", payload: { asset_id: "a1" } };
// @ts-expect-error there is no such kind
export const unknownKind: JobRequest = { kind: "mine-bitcoin", payload: {} };
// @ts-expect-error sleep is a number
export const wrongType: JobRequest = { kind: "ping", payload: { sleep: "soon" } };
