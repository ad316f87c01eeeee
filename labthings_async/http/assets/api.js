// How the page talks to the server: the public HTTP API and its event streams,
// nothing else. Every URL the page requests is made here, relative to the
// page's <base>, so the page works under any mount prefix.

// -- credentials -----------------------------------------------------------------------
//
// A server with tokens (labthings-async serve --tokens FILE) answers 401
// without one. The page then asks for a token, keeps it for this tab only
// (sessionStorage), and sends it as `Authorization: Bearer ...` with every
// fetch. What cannot send a header (an EventSource, an image) carries a stream
// token instead, `?access_token=...`: read-only and short-lived, from
// POST auth/stream-token, renewed before it expires. A server without tokens
// answers that POST with a null token, and nothing is ever asked.

const TOKEN_KEY = "labthings_async.token";
let streamToken = null;
let renewal = null;

function storedToken() {
  try {
    return window.sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null; // Storage refused (a sandboxed page): ask each time instead.
  }
}

function storeToken(token) {
  try {
    window.sessionStorage.setItem(TOKEN_KEY, token);
  } catch {
    // Kept in memory below for this page's life.
  }
  memoryToken = token;
}

let memoryToken = null;

/**
 * Add the client's credentials to a request. This is the one place to do it.
 *
 * @param {URL} url The URL to be requested (may be changed in place).
 * @param {Headers} [headers] The request's headers (absent for streams and images).
 */
function addCredentials(url, headers) {
  if (headers) {
    const token = storedToken() ?? memoryToken;
    if (token) headers.set("Authorization", `Bearer ${token}`);
  } else if (streamToken) {
    url.searchParams.set("access_token", streamToken);
  }
}

/** Ask the person for a token, in a small dialog; resolve to it, or null if they cancel. */
function askForToken(reason) {
  return new Promise((resolve) => {
    const dialog = document.createElement("dialog");
    dialog.className = "sign-in";
    dialog.setAttribute("aria-labelledby", "sign-in-title");
    const form = document.createElement("form");
    form.method = "dialog";
    const title = document.createElement("h2");
    title.id = "sign-in-title";
    title.textContent = "This server needs a token";
    const note = document.createElement("p");
    note.textContent = reason;
    const label = document.createElement("label");
    label.htmlFor = "sign-in-token";
    label.textContent = "Token";
    const input = document.createElement("input");
    input.id = "sign-in-token";
    input.type = "password";
    input.autocomplete = "current-password";
    input.required = true;
    const buttons = document.createElement("p");
    const submit = document.createElement("button");
    submit.type = "submit";
    submit.value = "sign-in";
    submit.textContent = "Sign in";
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.textContent = "Cancel";
    cancel.addEventListener("click", () => dialog.close("cancel"));
    buttons.append(submit, " ", cancel);
    form.append(title, note, label, input, buttons);
    dialog.append(form);
    dialog.addEventListener("close", () => {
      const value = dialog.returnValue === "sign-in" ? input.value.trim() : "";
      dialog.remove();
      resolve(value || null);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/**
 * Make sure the page may talk to the server: get a stream token, asking the
 * person for a token first if the server wants one. Resolves to true once the
 * page has what it needs (nothing, on a server without tokens), false if the
 * person cancelled.
 */
export async function signIn() {
  let reason = "Enter a token from the server's token file (ask whoever runs it).";
  for (;;) {
    const reply = await send("POST", "auth/stream-token");
    if (reply.ok) {
      streamToken = reply.data?.token ?? null;
      window.clearTimeout(renewal);
      if (reply.data?.expires) {
        // Renewed a minute before it expires; streams opened later carry the new one.
        const seconds = Math.max(10, reply.data.expires - Date.now() / 1000 - 60);
        renewal = window.setTimeout(signIn, seconds * 1000);
      }
      return true;
    }
    if (reply.status !== 401) return true; // Not about credentials: each request says what.
    const token = await askForToken(reason);
    if (token === null) return false;
    storeToken(token);
    reason = `That token was not accepted: ${reply.data?.detail ?? "try another"}.`;
  }
}

/** The absolute URL of an API path (relative to the page's base, or absolute). */
export function resolve(path) {
  return new URL(path, document.baseURI);
}

/** A URL for an element that loads it by itself (an image, a camera view), credentials added. */
export function mediaURL(path) {
  const url = resolve(path);
  addCredentials(url);
  return url.href;
}

/**
 * Send a request; resolve to `{ok, status, data}` (`data`: the JSON body, or
 * the problem details when not ok). A network failure resolves too, with
 * status 0 and a problem saying so, so callers have one shape to handle. A
 * 401 asks for a token (see `signIn`) and sends the request once more.
 */
export async function request(method, path, body) {
  const reply = await send(method, path, body);
  if (reply.status === 401 && (await signIn())) return send(method, path, body);
  return reply;
}

async function send(method, path, body) {
  const url = resolve(path);
  const headers = new Headers({ Accept: "application/json" });
  const init = { method, headers };
  if (body !== undefined) {
    headers.set("Content-Type", "application/json");
    init.body = JSON.stringify(body);
  }
  addCredentials(url, headers);
  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    return {
      ok: false,
      status: 0,
      data: { title: "No answer", detail: `the server could not be reached (${error.message})` },
    };
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { title: response.statusText, detail: text.slice(0, 200) };
    }
  }
  return { ok: response.ok, status: response.status, data };
}

/** Open an event stream; the browser reconnects by itself, resuming with Last-Event-ID. */
export function openStream(path) {
  const url = resolve(path);
  addCredentials(url);
  return new EventSource(url);
}
