// Calls to the gateway with the admin token of this tab; errors become exceptions carrying the envelope's text.
const KEY = "thinkgate-admin-token";

export const token = () => sessionStorage.getItem(KEY);

export async function signOut() {
  sessionStorage.removeItem(KEY);
  await fetch("/console/session", { method: "DELETE", credentials: "same-origin" });
  location.replace("/console");
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export async function api(path, { method = "GET", json, text, contentType } = {}) {
  const headers = { authorization: `Bearer ${token()}` };
  let body;
  if (json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(json);
  } else if (text !== undefined) {
    headers["content-type"] = contentType || "text/plain; charset=utf-8";
    body = text;
  }
  let res;
  try {
    res = await fetch(path, { method, headers, body, credentials: "same-origin" });
  } catch (err) {
    throw new ApiError(0, `the gateway did not answer: ${err.message}`);
  }
  if (res.status === 204) return null;
  const raw = await res.text();
  let data = null;
  try {
    data = raw ? JSON.parse(raw) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const message = data && data.error && data.error.message ? data.error.message : raw || res.statusText;
    throw new ApiError(res.status, `HTTP ${res.status}: ${message}`);
  }
  return data;
}

// Small DOM helpers shared by the views.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const fmt = (value, digits = 4) =>
  value === null || value === undefined || Number.isNaN(value) ? "–" : Number(value).toFixed(digits);

export function showError(message) {
  const banner = document.getElementById("app-error");
  banner.textContent = message;
  banner.hidden = !message;
}

export function setPolicyVersion(version) {
  document.getElementById("policy-version").textContent = `policy version ${version}`;
}
