// Form fields made from a Thing Description's data schemas (JSON Schema as a
// TD writes it), and the server's validation errors shown beside them.
//
// Forms are sent with `novalidate`: the server is the one judge of a value,
// and its problem details name the failing field by JSON path ($.x), which is
// how each field here is registered.

let counter = 0;
function uid(prefix) {
  counter += 1;
  return `${prefix}-${counter}`;
}

/** Build an element: `h("p", {class: "x"}, "text", child)`. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") element.textContent = value;
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child);
  }
  return element;
}

/** A schema with a `null` alternative, as `{schema, nullable}`. */
function unwrapNullable(schema) {
  const options = schema.oneOf || schema.anyOf;
  if (Array.isArray(options)) {
    const others = options.filter((option) => option.type !== "null");
    if (others.length === 1 && others.length < options.length) {
      const inner = { ...others[0] };
      for (const key of ["description", "title", "default"]) {
        if (schema[key] !== undefined && inner[key] === undefined) inner[key] = schema[key];
      }
      return { schema: inner, nullable: true };
    }
  }
  return { schema, nullable: false };
}

/** What a value must be, in words: "number · ≥ -10000 · ≤ 10000 · default 0". */
export function describeSchema(schema) {
  const { schema: inner, nullable } = unwrapNullable(schema);
  const parts = [];
  if (Array.isArray(inner.enum)) parts.push(`one of ${inner.enum.map(String).join(", ")}`);
  else if (inner.type) parts.push(Array.isArray(inner.type) ? inner.type.join(" or ") : inner.type);
  if (inner.minimum !== undefined) parts.push(`≥ ${inner.minimum}`);
  if (inner.exclusiveMinimum !== undefined) parts.push(`> ${inner.exclusiveMinimum}`);
  if (inner.maximum !== undefined) parts.push(`≤ ${inner.maximum}`);
  if (inner.exclusiveMaximum !== undefined) parts.push(`< ${inner.exclusiveMaximum}`);
  if (inner.multipleOf !== undefined) parts.push(`multiple of ${inner.multipleOf}`);
  if (inner.minLength !== undefined) parts.push(`at least ${inner.minLength} characters`);
  if (inner.maxLength !== undefined) parts.push(`at most ${inner.maxLength} characters`);
  if (inner.pattern !== undefined) parts.push(`matching ${inner.pattern}`);
  if (nullable) parts.push("may be empty");
  if (inner.default !== undefined && inner.default !== null) {
    parts.push(`default ${JSON.stringify(inner.default)}`);
  }
  return parts.join(" · ");
}

/** Thrown by a field that cannot read its value (text that is not JSON, say). */
class FieldError extends Error {
  constructor(path, message) {
    super(message);
    this.path = path;
  }
}

/**
 * The fields of one form, registered by JSON path, with their error slots.
 */
export class FieldSet {
  constructor() {
    this.fields = new Map(); // path -> {input, error}
  }

  register(path, input, error) {
    this.fields.set(path, { input, error });
  }

  /** Clear every error shown. */
  clearErrors(formError) {
    for (const { input, error } of this.fields.values()) {
      input.removeAttribute("aria-invalid");
      error.textContent = "";
      error.hidden = true;
    }
    if (formError) {
      formError.textContent = "";
      formError.hidden = true;
    }
  }

  /** Show one error beside the field at `path`, or the nearest enclosing one; false if none. */
  showError(path, message) {
    let target = path;
    for (;;) {
      const field = this.fields.get(target);
      if (field) {
        field.input.setAttribute("aria-invalid", "true");
        field.error.textContent = field.error.textContent
          ? `${field.error.textContent}; ${message}`
          : message;
        field.error.hidden = false;
        return true;
      }
      const shorter = target.replace(/(\.[^.[\]]+|\[\d+\])$/, "");
      if (shorter === target) return false;
      target = shorter;
    }
  }

  /**
   * Show a problem (RFC 9457) from the server: each failing field beside its
   * input, anything else in `formError`. Focuses the first field in error.
   */
  showProblem(problem, formError) {
    let placed = false;
    for (const issue of (problem && problem.errors) || []) {
      let path = issue.path || "$";
      // msgspec names a missing field on its parent: "Object missing required field `x`".
      const missing = /required field `([^`]+)`/.exec(issue.message || "");
      if (missing) path = `${path}.${missing[1]}`;
      placed = this.showError(path, issue.message || problem.detail) || placed;
    }
    if (!placed && formError) {
      formError.textContent = problemText(problem);
      formError.hidden = false;
    }
    const first = [...this.fields.values()].find((field) => !field.error.hidden);
    if (first) first.input.focus();
    else if (formError && !formError.hidden) formError.focus();
  }

  /** Show a field's own reading error. */
  showFieldError(error, formError) {
    if (!this.showError(error.path, error.message) && formError) {
      formError.textContent = error.message;
      formError.hidden = false;
    }
  }
}

/** A problem's words for people: "Invalid input: the input of action ... is invalid". */
export function problemText(problem) {
  if (!problem) return "The server gave no reason.";
  const title = problem.title || `Error ${problem.status || ""}`.trim();
  return problem.detail ? `${title}: ${problem.detail}` : title;
}

/**
 * A form field for a value of `schema`.
 *
 * @returns {{element: HTMLElement, read: () => any}} `read` returns the value,
 *   `undefined` for "leave it out", or throws a FieldError.
 */
export function buildField(fieldSet, schema, options) {
  const { path, label, required = true } = options;
  const { schema: inner, nullable } = unwrapNullable(schema || {});
  const optional = !required || nullable;
  if (inner.type === "object" && inner.properties && Object.keys(inner.properties).length) {
    return objectField(fieldSet, inner, { path, label, optional });
  }
  const id = uid("field");
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const error = h("p", { class: "field-error", id: errorId, role: "alert", hidden: true });
  const hintText = [describeSchema(schema || {}), inner.description].filter(Boolean).join(" — ");
  const hint = hintText ? h("small", { class: "hint", id: hintId, text: hintText }) : null;
  const describedBy = [hint ? hintId : null, errorId].filter(Boolean).join(" ");
  let input;
  let read;
  const defaultValue = inner.default;
  if (Array.isArray(inner.enum)) {
    input = h("select", { id, "aria-describedby": describedBy, required: !optional });
    if (optional) input.append(h("option", { value: "", text: "— leave out —" }));
    for (const value of inner.enum) {
      const option = h("option", { value: JSON.stringify(value), text: String(value) });
      if (value === defaultValue) option.selected = true;
      input.append(option);
    }
    read = () => (input.value === "" ? undefined : JSON.parse(input.value));
  } else if (inner.type === "boolean") {
    input = h("input", { id, type: "checkbox", "aria-describedby": describedBy });
    input.checked = defaultValue === true;
    read = () => input.checked;
  } else if (inner.type === "number" || inner.type === "integer") {
    const step = inner.multipleOf ?? (inner.type === "integer" ? 1 : "any");
    input = h("input", {
      id,
      type: "number",
      inputmode: inner.type === "integer" ? "numeric" : "decimal",
      step,
      min: inner.minimum,
      max: inner.maximum,
      required: !optional,
      "aria-describedby": describedBy,
    });
    if (typeof defaultValue === "number") input.value = String(defaultValue);
    read = () => {
      if (input.validity.badInput) throw new FieldError(path, "Expected a number");
      // Left empty: leave it out; the server names a required field that is missing.
      if (input.value === "") return undefined;
      return Number(input.value);
    };
  } else if (inner.type === "string") {
    input = h("input", {
      id,
      type: "text",
      required: !optional,
      "aria-describedby": describedBy,
      autocomplete: "off",
    });
    if (typeof defaultValue === "string") input.value = defaultValue;
    read = () => (input.value === "" && optional ? undefined : input.value);
  } else {
    // Arrays, unions and anything else: JSON, checked by the server.
    input = h("textarea", {
      id,
      rows: 2,
      spellcheck: "false",
      required: !optional,
      "aria-describedby": describedBy,
      placeholder: "JSON",
    });
    if (defaultValue !== undefined) input.value = JSON.stringify(defaultValue);
    read = () => {
      const text = input.value.trim();
      if (text === "") return undefined;
      try {
        return JSON.parse(text);
      } catch (parseError) {
        throw new FieldError(path, `Not valid JSON: ${parseError.message}`);
      }
    };
  }
  input.dataset.path = path;
  fieldSet.register(path, input, error);
  const labelElement = h(
    "label",
    { for: id },
    h("span", { class: "label-name", text: label }),
    optional ? null : h("span", { class: "required", "aria-hidden": "true", text: " *" }),
  );
  const element = h(
    "div",
    { class: `field field-${input.type === "checkbox" ? "checkbox" : "input"}` },
    labelElement,
    input,
    hint,
    error,
  );
  return { element, read, input };
}

function objectField(fieldSet, schema, { path, label, optional }) {
  const required = new Set(schema.required || []);
  const children = Object.entries(schema.properties).map(([name, child]) => ({
    name,
    field: buildField(fieldSet, child, {
      path: `${path}.${name}`,
      label: child.title && child.title !== name ? `${name} (${child.title})` : name,
      required: required.has(name),
    }),
  }));
  const error = h("p", { class: "field-error", role: "alert", hidden: true });
  const element = h(
    "fieldset",
    { class: path === "$" ? "field-object field-root" : "field-object" },
    label ? h("legend", { text: label + (optional ? " (optional)" : "") }) : null,
    schema.description ? h("small", { class: "hint", text: schema.description }) : null,
    ...children.map((child) => child.field.element),
    error,
  );
  fieldSet.register(path, element, error);
  const read = () => {
    const value = {};
    for (const { name, field } of children) {
      const childValue = field.read();
      if (childValue !== undefined) value[name] = childValue;
    }
    if (optional && Object.keys(value).length === 0) return undefined;
    return value;
  };
  return { element, read };
}
