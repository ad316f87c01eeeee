// Showing values: JSON pretty-printed, files and images (LabThings blobs,
// `{"href", "media_type"}`) as images or download links, and camera streams
// (multipart/x-mixed-replace) as live views.

import { mediaURL } from "./api.js";
import { h } from "./forms.js";

/** True for LabThings' blob JSON: `{"href": ..., "media_type": ...}`. */
export function isBlob(value) {
  return (
    value !== null &&
    typeof value === "object" &&
    typeof value.href === "string" &&
    typeof value.media_type === "string"
  );
}

/** A link the page may follow: http(s) only, so no output can smuggle a `javascript:` URL. */
function safeHref(href) {
  try {
    const url = new URL(href, document.baseURI);
    return url.protocol === "http:" || url.protocol === "https:" ? mediaURL(url.href) : null;
  } catch {
    return null;
  }
}

function blobElement(blob, label) {
  const href = safeHref(blob.href);
  if (href === null) return h("p", { text: `${label}: a file at an address the page will not open` });
  if (blob.media_type.startsWith("image/")) {
    return h(
      "figure",
      { class: "blob-image" },
      h("a", { href, target: "_blank", rel: "noopener" }, h("img", { src: href, alt: `${label} (${blob.media_type})` })),
      h(
        "figcaption",
        {},
        h("a", { href, download: "", text: `Download ${label.toLowerCase()}` }),
        ` ${blob.media_type}`,
      ),
    );
  }
  return h(
    "p",
    { class: "blob-file" },
    h("a", { href, download: "", class: "download", text: `Download ${label.toLowerCase()}` }),
    ` ${blob.media_type}`,
  );
}

/**
 * JSON, indented, with lists of plain values kept on one line (an image's
 * rows, a position), so a result reads as the data it is; `undefined` (nothing
 * yet) as an em dash.
 */
export function formatJSON(value, indent = "") {
  if (value === undefined) return "—";
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    if (value.every((item) => item === null || typeof item !== "object")) {
      return `[${value.map((item) => JSON.stringify(item)).join(", ")}]`;
    }
    return `[\n${value.map((item) => inner + formatJSON(item, inner)).join(",\n")}\n${indent}]`;
  }
  const entries = Object.entries(value);
  if (entries.length === 0) return "{}";
  const lines = entries.map(([key, item]) => `${inner}${JSON.stringify(key)}: ${formatJSON(item, inner)}`);
  return `{\n${lines.join(",\n")}\n${indent}}`;
}

/** Short text for a value in a line: numbers as they are, strings unquoted, the rest as JSON. */
export function formatInline(value) {
  if (typeof value === "string") return value;
  if (value === undefined) return "—";
  return JSON.stringify(value);
}

/**
 * An invocation's output: each file or image it holds (at the top, or one
 * level down in a list or object) shown as such, and the JSON itself.
 */
export function outputElement(value) {
  const container = h("div", { class: "output-value" });
  const blobs = [];
  if (isBlob(value)) blobs.push(["Output", value]);
  else if (Array.isArray(value)) {
    value.forEach((item, index) => isBlob(item) && blobs.push([`Output ${index + 1}`, item]));
  } else if (value !== null && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) if (isBlob(item)) blobs.push([key, item]);
  }
  for (const [label, blob] of blobs) container.append(blobElement(blob, label));
  if (!isBlob(value)) container.append(h("pre", { class: "json", text: formatJSON(value) }));
  return container;
}

/** The camera streams a Thing Description links to: `links` whose type is multipart/x-mixed-replace. */
export function cameraLinks(td) {
  return (td.links || []).filter(
    (link) =>
      link &&
      typeof link.href === "string" &&
      typeof link.type === "string" &&
      link.type.toLowerCase().startsWith("multipart/x-mixed-replace"),
  );
}

/**
 * A live view of a camera stream, in an <img>. Each view holds a connection
 * (a browser allows six per server), so it pauses while the tab is hidden or
 * the view is scrolled away, and on request.
 */
export function cameraElement(td, link) {
  const source = safeHref(new URL(link.href, td.base || document.baseURI).href);
  const name = link.title ? `Live view: ${link.title}` : `Live view of ${td.title || "the camera"}`;
  const image = h("img", { class: "camera-frame", alt: name });
  const button = h("button", { type: "button", class: "secondary small", text: "Pause" });
  const figure = h("figure", { class: "camera" }, image, h("figcaption", {}, h("span", { text: name }), button));
  let paused = false;
  let onScreen = true;
  const update = () => {
    const live = source !== null && !paused && onScreen && !document.hidden;
    if (live && !image.getAttribute("src")) image.src = source;
    // Removing the source ends the request, and so frees the connection.
    if (!live && image.getAttribute("src")) image.removeAttribute("src");
    figure.classList.toggle("paused", !live);
  };
  button.addEventListener("click", () => {
    paused = !paused;
    button.textContent = paused ? "Play" : "Pause";
    update();
  });
  document.addEventListener("visibilitychange", update);
  if ("IntersectionObserver" in window) {
    new IntersectionObserver((entries) => {
      onScreen = entries.some((entry) => entry.isIntersecting);
      update();
    }).observe(figure);
  }
  update();
  return figure;
}
