#!/usr/bin/env node
// Command-line harness: drive node-wot 0.9.2 (the W3C WoT reference client)
// against a Thing Description served by labthings_async.
//
// Usage:
//   node wot_client.mjs TD_URL SCRIPT_JSON
//
// SCRIPT_JSON is a JSON array of steps (or "@path/to/file.json", or "-" to
// read the array from stdin). Every top-level step prints exactly one JSON
// object on its own stdout line, in order:
//   {"step": i, "op": "...", "ok": true,  "value": ...}
//   {"step": i, "op": "...", "ok": false, "error": "message", ...}
// A failing step never aborts the run; the process exits 0 once all steps ran.
// Exit code 2 = usage / malformed script, 1 = unexpected harness failure.
//
// Steps:
//   {"op": "fetchTD"}                         TD via node-wot's WoT.requestThingDescription
//                                             (validates it against node-wot's TD JSON schema)
//   {"op": "fetchTD", "validate": false}      TD via plain fetch(), no validation
//   {"op": "getThingDescription"}             the consumed (normalised) TD: base applied to hrefs, ...
//   {"op": "readProperty",  "name": "p"}
//   {"op": "writeProperty", "name": "p", "value": 3}
//   {"op": "invokeAction",  "name": "a", "input": {...}}   ("input" omitted => no request body)
//   {"op": "observeProperty", "name": "p", "count": 2, "timeoutMs": 5000, "then": [steps...]}
//   {"op": "subscribeEvent",  "name": "e", "count": 1, "timeoutMs": 5000, "then": [steps...]}
//   {"op": "sleep", "ms": 100}
//
// observeProperty / subscribeEvent: subscribe, and once node-wot reports the
// subscription as established (for SSE: the response headers of the stream
// arrived), run the nested "then" steps in order while collecting "count"
// values. Result: {"ok": true, "value": [v1, v2, ...], "then": [results...]}
// (ok false with the partial "value" list on timeout). Then the subscription
// is stopped (ConsumedThing unobserve/unsubscribe) — failure to stop is
// reported in "stopError" but does not make the step fail (node-wot only
// *warns* when it cannot find the SSE connection to close: see "warnings").
// Also reported when they occur: "valueErrors" (value() failed for a
// notification, e.g. DataSchemaError — such values are not counted) and
// "subscriptionErrors" (errors node-wot passed to the error listener; for SSE
// these are "[object Object]" — node-wot stringifies the event, and one is
// reported each time the server ends the stream; eventsource then reconnects).
//
// Optional per-step fields:
//   "uriVariables": {...}, "formIndex": n   passed to node-wot as InteractionOptions
//   "timeoutMs": n                          per-step timeout (default 10000, env WOT_CLIENT_STEP_TIMEOUT_MS)
//   "raw": true                             also report the raw response body text as "raw"
// "raw" is always added when value() gave undefined (e.g. action without an
// output schema) or when value() failed (e.g. DataSchemaError).
// Results may also carry "warnings": node-wot's own warn/error log lines
// emitted while the step ran (e.g. "HttpClient cannot unlink ...").
//
// TD loading for the consumed thing happens lazily before the first step that
// needs it: by default through WoT.requestThingDescription(TD_URL) (node-wot's
// canonical path, with schema validation); with WOT_CLIENT_TD_LOADER=fetch it
// uses plain fetch() + WoT.consume() (no schema validation). If loading or
// consuming fails, every step that needs the thing reports ok:false with that
// error.
//
// node-wot's own logging goes to stderr when DEBUG=node-wot* is set.

import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

const DEFAULT_STEP_TIMEOUT_MS = Number(process.env.WOT_CLIENT_STEP_TIMEOUT_MS ?? 10000);
const DEFAULT_OBSERVE_TIMEOUT_MS = 5000;
const TD_LOADER = process.env.WOT_CLIENT_TD_LOADER ?? "servient";
// A bearer token for a server that wants one: given to node-wot the W3C way
// (servient.addCredentials, keyed by the Thing's id), and sent with the TD
// request, so the server's TD carries a stream token in its event-stream
// hrefs (node-wot opens those with an EventSource, which sends no headers).
const TOKEN = process.env.WOT_CLIENT_TOKEN;

const KNOWN_OPS = new Set([
    "fetchTD",
    "getThingDescription",
    "readProperty",
    "writeProperty",
    "invokeAction",
    "observeProperty",
    "subscribeEvent",
    "sleep",
]);
const NEEDS_NAME = new Set(["readProperty", "writeProperty", "invokeAction", "observeProperty", "subscribeEvent"]);

class UsageError extends Error {}

// ---------------------------------------------------------------- utilities

function usage(msg) {
    throw new UsageError(
        `${msg}\nusage: node wot_client.mjs TD_URL SCRIPT_JSON   (SCRIPT_JSON: JSON array, @file.json or - for stdin)`
    );
}

function validateSteps(steps, path = "script") {
    if (!Array.isArray(steps)) usage(`${path} must be a JSON array of steps`);
    steps.forEach((s, i) => {
        const where = `${path}[${i}]`;
        if (s === null || typeof s !== "object" || Array.isArray(s)) usage(`${where} must be an object`);
        if (!KNOWN_OPS.has(s.op)) usage(`${where}: unknown op ${JSON.stringify(s.op)} (known: ${[...KNOWN_OPS].join(", ")})`);
        if (NEEDS_NAME.has(s.op) && typeof s.name !== "string") usage(`${where}: op ${s.op} needs a string "name"`);
        if (s.op === "writeProperty" && !("value" in s)) usage(`${where}: writeProperty needs "value"`);
        if (s.op === "sleep" && typeof s.ms !== "number") usage(`${where}: sleep needs numeric "ms"`);
        if (s.then !== undefined) {
            if (s.op !== "observeProperty" && s.op !== "subscribeEvent") usage(`${where}: "then" only allowed on observeProperty/subscribeEvent`);
            validateSteps(s.then, `${where}.then`);
        }
    });
}

async function readStdin() {
    const chunks = [];
    for await (const c of process.stdin) chunks.push(c);
    return Buffer.concat(chunks).toString("utf8");
}

function errorInfo(e) {
    if (e instanceof Error) {
        const out = { error: e.message || String(e) };
        // undici's fetch() reports "fetch failed" and hides the reason in e.cause
        if (e.cause instanceof Error && e.cause.message) out.error += ` (cause: ${e.cause.message})`;
        if (e.name && e.name !== "Error") out.errorName = e.name;
        if (e.value !== undefined) out.errorValue = jsonSafe(e.value);
        return out;
    }
    if (e && typeof e === "object") {
        try {
            return { error: JSON.stringify(e) };
        } catch {
            return { error: String(e) };
        }
    }
    return { error: String(e) };
}

function jsonSafe(v) {
    if (v === undefined) return null;
    if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) return Buffer.from(v.buffer ?? v).toString("base64");
    return v;
}

function withTimeout(promise, ms, what) {
    let timer;
    const t = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    });
    return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function interactionOptions(step) {
    const o = {};
    if (step.uriVariables !== undefined) o.uriVariables = step.uriVariables;
    if (step.formIndex !== undefined) o.formIndex = step.formIndex;
    return Object.keys(o).length ? o : undefined;
}

// Read an InteractionOutput the way a WoT application would (value()), and
// keep the raw body around for diagnosis.
async function readOutput(io, wantRaw) {
    const rawText = async () => {
        try {
            const buf = await io.arrayBuffer();
            return Buffer.from(buf).toString("utf8");
        } catch (e) {
            return undefined;
        }
    };
    let value;
    try {
        value = await io.value();
    } catch (e) {
        const out = { ok: false, ...errorInfo(e) };
        const raw = await rawText();
        if (raw !== undefined) out.raw = raw;
        return out;
    }
    const out = { ok: true, value: jsonSafe(value) };
    if (value === undefined) out.valueUndefined = true;
    if (wantRaw || value === undefined) {
        const raw = await rawText();
        if (raw !== undefined) out.raw = raw;
    }
    return out;
}

// node-wot logs through the `debug` package (namespaces
// node-wot:<package>:<module>:<level>). Its warnings often explain silent
// misbehaviour (e.g. "HttpClient cannot unlink ... no subscription found"),
// so warn/error messages are captured and attached to the running step as
// "warnings". Anything the user enabled with DEBUG=... still goes to stderr.
const warningSinks = [];

function captureNodeWotWarnings() {
    const coreRequire = createRequire(require.resolve("@node-wot/core"));
    const createDebug = coreRequire("debug");
    const util = require("node:util");
    const userNs = process.env.DEBUG ?? "";
    const userPatterns = userNs
        .split(/[\s,]+/)
        .filter(Boolean)
        .map((p) => ({
            skip: p.startsWith("-"),
            re: new RegExp("^" + p.replace(/^-/, "").replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*?") + "$"),
        }));
    const userEnabled = (ns) =>
        !userPatterns.some((p) => p.skip && p.re.test(ns)) && userPatterns.some((p) => !p.skip && p.re.test(ns));
    createDebug.enable([userNs, "node-wot:*:warn", "node-wot:*:error"].filter(Boolean).join(","));
    const origFormatArgs = createDebug.formatArgs;
    createDebug.formatArgs = function (args) {
        if (/:(warn|error)$/.test(this.namespace) && warningSinks.length) {
            let msg;
            try {
                msg = util.format(...args);
            } catch {
                msg = String(args[0]);
            }
            warningSinks.at(-1).push(`${this.namespace.replace(/^node-wot:/, "")} ${msg}`);
        }
        return origFormatArgs.call(this, args);
    };
    const origLog = createDebug.log;
    createDebug.log = function (...args) {
        if (userEnabled(this.namespace)) return origLog.apply(this, args);
    };
}

// ---------------------------------------------------------------- harness

async function main() {
    const [tdUrl, scriptArg] = process.argv.slice(2);
    if (!tdUrl || scriptArg === undefined) usage("missing arguments");
    let scriptText = scriptArg;
    if (scriptArg === "-") scriptText = await readStdin();
    else if (scriptArg.startsWith("@")) scriptText = require("node:fs").readFileSync(scriptArg.slice(1), "utf8");
    let steps;
    try {
        steps = JSON.parse(scriptText);
    } catch (e) {
        usage(`SCRIPT_JSON is not valid JSON: ${e.message}`);
    }
    validateSteps(steps);

    // ajv inside node-wot warns (console.warn -> stderr) about the unknown
    // "iri-reference" format ~44 times at import; drop just that noise.
    const origWarn = console.warn;
    console.warn = (...args) => {
        if (typeof args[0] === "string" && args[0].startsWith('unknown format "iri-reference"')) return;
        origWarn(...args);
    };
    const { Servient } = require("@node-wot/core");
    const { HttpClientFactory } = require("@node-wot/binding-http");
    console.warn = origWarn;
    captureNodeWotWarnings();

    const servient = new Servient();
    servient.addClientFactory(new HttpClientFactory(null));
    const WoT = await servient.start();

    // Lazily loaded consumed thing (or the error explaining why not).
    let thingPromise;
    const getThing = () => {
        thingPromise ??= (async () => {
            let td;
            try {
                if (TD_LOADER === "fetch" || TOKEN) {
                    const headers = { accept: "application/td+json, application/json" };
                    if (TOKEN) headers.authorization = `Bearer ${TOKEN}`;
                    const res = await fetch(tdUrl, { headers });
                    if (!res.ok) throw new Error(`GET ${tdUrl} -> HTTP ${res.status}`);
                    td = await res.json();
                } else {
                    td = await WoT.requestThingDescription(tdUrl);
                }
            } catch (e) {
                throw new Error(`loading TD failed (${TD_LOADER}): ${errorInfo(e).error}`);
            }
            if (TOKEN) servient.addCredentials({ [td.id]: { token: TOKEN } });
            try {
                return await WoT.consume(td);
            } catch (e) {
                throw new Error(`WoT.consume failed: ${errorInfo(e).error}`);
            }
        })();
        return thingPromise;
    };

    const collect = async (step, subscribeFn, forget) => {
        // subscribeFn(listener, errorListener) -> Promise<Subscription>;
        // forget() drops node-wot's bookkeeping if stop() fails, so that a
        // later step can observe/subscribe the same name again.
        const count = step.count ?? 1;
        const timeoutMs = step.timeoutMs ?? DEFAULT_OBSERVE_TIMEOUT_MS;
        const values = [];
        const valueErrors = [];
        let resolveDone;
        const done = new Promise((r) => (resolveDone = r));
        const pending = [];
        const listener = (io) => {
            // value() is async; keep arrival order by chaining.
            const p = (pending.at(-1) ?? Promise.resolve()).then(async () => {
                const r = await readOutput(io, step.raw);
                if (r.ok) {
                    if (values.length < count) values.push(r.value);
                } else {
                    const { ok, ...rest } = r;
                    valueErrors.push(rest);
                }
                if (values.length >= count) resolveDone();
            });
            pending.push(p);
        };
        const subErrors = [];
        const errorListener = (err) => subErrors.push(errorInfo(err).error);

        let subscription;
        try {
            subscription = await withTimeout(subscribeFn(listener, errorListener), timeoutMs, "subscription");
        } catch (e) {
            const out = { ok: false, ...errorInfo(e) };
            if (subErrors.length) out.subscriptionErrors = subErrors;
            return out;
        }

        const startedAt = Date.now();
        const thenResults = [];
        for (const sub of step.then ?? []) thenResults.push(await runStep(sub));

        const remaining = Math.max(0, timeoutMs - (Date.now() - startedAt));
        let timedOut = false;
        if (values.length < count) {
            let timer;
            await Promise.race([
                done,
                new Promise((r) => (timer = setTimeout(() => ((timedOut = true), r()), remaining))),
            ]);
            clearTimeout(timer);
        }
        await Promise.allSettled(pending);

        const out = timedOut
            ? { ok: false, error: `timeout after ${timeoutMs} ms: got ${values.length} of ${count} values`, value: values }
            : { ok: true, value: values.slice(0, count) };
        if (valueErrors.length) out.valueErrors = valueErrors;
        if (subErrors.length) out.subscriptionErrors = subErrors;
        if (step.then !== undefined) out.then = thenResults;
        try {
            await withTimeout(Promise.resolve(subscription.stop()), 3000, "stop");
        } catch (e) {
            out.stopError = errorInfo(e).error;
            forget();
        }
        return out;
    };

    const execute = async (step) => {
        const opts = interactionOptions(step);
        switch (step.op) {
            case "sleep":
                await sleep(step.ms);
                return { ok: true, value: null };
            case "fetchTD": {
                if (step.validate === false) {
                    const res = await fetch(tdUrl, { headers: { accept: "application/td+json, application/json" } });
                    const text = await res.text();
                    if (!res.ok) return { ok: false, error: `HTTP ${res.status}`, raw: text };
                    return { ok: true, value: JSON.parse(text), contentType: res.headers.get("content-type") };
                }
                return { ok: true, value: await WoT.requestThingDescription(tdUrl) };
            }
            case "getThingDescription": {
                const thing = await getThing();
                return { ok: true, value: thing.getThingDescription() };
            }
            case "readProperty": {
                const thing = await getThing();
                const io = await thing.readProperty(step.name, opts);
                return readOutput(io, step.raw);
            }
            case "writeProperty": {
                const thing = await getThing();
                await thing.writeProperty(step.name, step.value, opts);
                return { ok: true, value: null };
            }
            case "invokeAction": {
                const thing = await getThing();
                const io = "input" in step
                    ? await thing.invokeAction(step.name, step.input, opts)
                    : await thing.invokeAction(step.name, undefined, opts);
                return readOutput(io, step.raw);
            }
            case "observeProperty": {
                const thing = await getThing();
                return collect(
                    step,
                    (l, el) => thing.observeProperty(step.name, l, el, opts),
                    () => thing.observedProperties?.delete(step.name)
                );
            }
            case "subscribeEvent": {
                const thing = await getThing();
                return collect(
                    step,
                    (l, el) => thing.subscribeEvent(step.name, l, el, opts),
                    () => thing.subscribedEvents?.delete(step.name)
                );
            }
        }
        throw new Error(`unreachable op ${step.op}`);
    };

    const runStep = async (step) => {
        const head = { op: step.op };
        if (step.name !== undefined) head.name = step.name;
        const warnings = [];
        warningSinks.push(warnings);
        const withWarnings = (r) => (warnings.length ? { ...r, warnings } : r);
        try {
            const isSub = step.op === "observeProperty" || step.op === "subscribeEvent";
            // subscriptions enforce their own timeout; guard the rest.
            const r = isSub
                ? await execute(step)
                : await withTimeout(execute(step), step.timeoutMs ?? DEFAULT_STEP_TIMEOUT_MS, step.op);
            return withWarnings({ ...head, ...r });
        } catch (e) {
            return withWarnings({ ...head, ok: false, ...errorInfo(e) });
        } finally {
            warningSinks.splice(warningSinks.lastIndexOf(warnings), 1);
        }
    };

    for (let i = 0; i < steps.length; i++) {
        const r = await runStep(steps[i]);
        process.stdout.write(JSON.stringify({ step: i, ...r }) + "\n");
    }

    try {
        await withTimeout(servient.shutdown(), 2000, "servient shutdown");
    } catch (e) {
        process.stderr.write(`wot_client: ${errorInfo(e).error}\n`);
    }
}

// A misbehaving server must not crash the harness: node-wot / eventsource
// may reject promises nobody awaits (e.g. SSE reconnect errors).
process.on("unhandledRejection", (reason) => {
    process.stderr.write(`wot_client: unhandled rejection ignored: ${errorInfo(reason).error}\n`);
});

function finish(code) {
    // Open SSE connections / eventsource reconnect timers would keep node
    // alive; exit explicitly once stdout is flushed.
    process.stdout.write("", () => process.exit(code));
}

main().then(
    () => finish(0),
    (e) => {
        if (e instanceof UsageError) {
            process.stderr.write(`wot_client: ${e.message}\n`);
            finish(2);
        } else {
            process.stderr.write(`wot_client: harness error: ${e?.stack ?? e}\n`);
            finish(1);
        }
    }
);
