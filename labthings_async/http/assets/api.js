// How the page talks to the server: the public HTTP API and its event streams,
// nothing else. Every URL the page requests is made here, relative to the
// page's <base>, so the page works under any mount prefix.

/**
 * Add the client's credentials to a request. This is the one place to do it.
 *
 * The server needs none today. When it requires a bearer token, add it here:
 * as an `Authorization: Bearer ...` header for `fetch`, and as a query
 * parameter on `url` for what cannot send headers (`EventSource`, and images
 * such as camera views and image outputs).
 *
 * @param {URL} url The URL to be requested (may be changed in place).
 * @param {Headers} [headers] The request's headers (absent for streams and images).
 */
function addCredentials(url, headers) {}

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
 * status 0 and a problem saying so, so callers have one shape to handle.
 */
export async function request(method, path, body) {
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
