// Tune: score labelled prompts once, then move the operating point and read thinkgate eval's numbers there.
import { api, el, fmt, setPolicyVersion } from "/console/static/api.js";
import { thresholdChart } from "/console/static/chart.js";

const $ = (id) => document.getElementById(id);
const state = { id: null, text: null, result: null, chart: null, diffText: null };

function fail(id, message) {
  $(id).textContent = message;
  $(id).hidden = !message;
}

function readouts(summary) {
  $("tune-accuracy").textContent = fmt(summary.accuracy);
  $("tune-recall").textContent = fmt(summary.recall_think);
  $("tune-precision").textContent = fmt(summary.precision_nothink);
  $("tune-share").textContent = fmt(summary.think_share);
  $("tune-budget").textContent = fmt(summary.budget_per_request, 1);
  $("tune-ordinal").textContent = fmt(summary.ordinal_error);
}

// The inputs as an operating point; an empty input is left out (the running policy's value applies).
function operatingPoint() {
  const pick = (pairs) =>
    Object.fromEntries(pairs.filter(([, id]) => $(id).value.trim() !== "").map(([key, id]) => [key, Number($(id).value)]));
  return {
    thresholds: pick([["think", "tune-think"], ["medium", "tune-medium"], ["high", "tune-high"]]),
    budgets: pick([["low", "tune-budget-low"], ["medium", "tune-budget-medium"], ["high", "tune-budget-high"]]),
  };
}

function renderConfusion(result) {
  const levels = result.levels;
  const head = el("tr", {}, el("th", {}, "label \\ chosen"), ...levels.map((l) => el("th", {}, l)));
  const rows = result.confusion.map((row, i) =>
    el("tr", {}, el("th", {}, levels[i]), ...row.map((n, j) => el("td", { class: i === j ? "diag" : (n ? "off" : "") }, n))),
  );
  $("tune-confusion").replaceChildren(head, ...rows);
}

function renderMisjudged(result) {
  $("tune-misjudged-count").textContent = `(${result.misjudged_total} of ${result.n}; showing the ${result.misjudged.length} most confident)`;
  const head = el("tr", {}, ...["#", "prompt", "label", "chosen", "p_think", "reason"].map((h) => el("th", {}, h)));
  const rows = result.misjudged.map((m) =>
    el("tr", {}, el("td", {}, m.index), el("td", { class: "prompt" }, m.prompt), el("td", {}, m.label),
      el("td", {}, m.chosen), el("td", {}, fmt(m.p_think, 3)), el("td", { class: "muted" }, m.reason)),
  );
  $("tune-misjudged").replaceChildren(head, ...rows);
}

function pointAt(think) {
  return state.result.sweep.find((p) => Math.abs(p.think - think) < 1e-9);
}

function render(result) {
  state.result = result;
  $("tune-body").hidden = false;
  $("tune-n").textContent = `(${result.n} prompts)`;
  const th = result.thresholds;
  $("tune-think").value = th.think.toFixed(2);
  $("tune-medium").value = th.medium ?? "";  // unset: the artifact's own cut point
  $("tune-high").value = th.high ?? "";
  $("tune-budget-low").value = result.budgets.low ?? "";
  $("tune-budget-medium").value = result.budgets.medium ?? "";
  $("tune-budget-high").value = result.budgets.high ?? "";
  const sweep = result.sweep;
  state.chart = thresholdChart($("tune-chart"), {
    left: [
      { label: "accuracy", points: sweep.map((p) => [p.think, p.accuracy]) },
      { label: "think recall", points: sweep.map((p) => [p.think, p.recall_think]) },
      { label: "think-share", points: sweep.map((p) => [p.think, p.think_share]) },
    ],
    right: { label: "thinking tokens / request", points: sweep.map((p) => [p.think, p.budget_per_request]) },
    marker: th.think,
    xLabel: "think threshold on p_think",
    onMove: (x) => {
      $("tune-think").value = x.toFixed(2);
      const p = pointAt(x);
      if (p) readouts(p);
    },
    onDrop: (x) => {
      $("tune-think").value = x.toFixed(2);
      evaluate();
    },
  });
  readouts(result.summary);
  renderConfusion(result);
  renderMisjudged(result);
  $("tune-apply").disabled = true;
  $("tune-diff").replaceChildren();
  $("view-tune").dataset.think = th.think.toFixed(2);
}

async function evaluate() {
  if (!state.id) return;
  fail("tune-error", "");
  $("view-tune").dataset.busy = "true";
  const point = operatingPoint();
  const ticket = (state.ticket = (state.ticket || 0) + 1); // only the latest answer is shown
  try {
    let result;
    try {
      result = await api(`/console/api/datasets/${state.id}/evaluate`, { method: "POST", json: point });
    } catch (err) {
      // The gateway keeps a few uploads per process: after a restart, or on another worker, score it again.
      if (err.status !== 404 || !state.text) throw err;
      state.id = (await api("/console/api/datasets", { method: "POST", text: state.text, contentType: "application/x-ndjson" })).id;
      result = await api(`/console/api/datasets/${state.id}/evaluate`, { method: "POST", json: point });
    }
    if (ticket === state.ticket) render(result);
  } catch (err) {
    if (ticket === state.ticket) fail("tune-error", err.message);
  } finally {
    if (ticket === state.ticket) $("view-tune").dataset.busy = "false";
  }
}

async function score() {
  fail("tune-error", "");
  const file = $("tune-file").files[0];
  const text = file ? await file.text() : $("tune-text").value;
  if (!text.trim()) {
    fail("tune-error", "choose a JSONL file or paste labelled prompts first");
    return;
  }
  $("view-tune").dataset.busy = "true";
  try {
    const result = await api("/console/api/datasets", { method: "POST", text, contentType: "application/x-ndjson" });
    state.id = result.id;
    state.text = text; // kept in this tab only, to score again if the gateway forgot the upload
    render(result);
  } catch (err) {
    fail("tune-error", err.message);
  } finally {
    $("view-tune").dataset.busy = "false";
  }
}

function showDiff(diff) {
  const lines = diff.split("\n").map((line) => {
    const cls = line.startsWith("+") && !line.startsWith("+++") ? "add" : line.startsWith("-") && !line.startsWith("---") ? "del" : "";
    return el("span", { class: cls }, line + "\n");
  });
  $("tune-diff").replaceChildren(...lines);
}

async function exportChange() {
  $("tune-status").textContent = "";
  try {
    const change = await api("/console/api/policy-change", { method: "POST", json: operatingPoint() });
    state.diffText = change.diff ? change.text : null;
    showDiff(change.diff || "(no change: the running policy already has these values)");
    $("tune-apply").disabled = !change.diff;
  } catch (err) {
    $("tune-status").textContent = err.message;
  }
}

async function apply() {
  if (!state.diffText) return;
  try {
    const res = await api("/admin/policy", { method: "PUT", text: state.diffText, contentType: "application/yaml" });
    setPolicyVersion(res.version);
    $("tune-status").textContent = `applied: policy version ${res.version} (previous ${res.previous_version})`;
    $("tune-apply").disabled = true;
    state.diffText = null;
  } catch (err) {
    $("tune-status").textContent = err.message;
  }
}

async function rollback() {
  try {
    const res = await api("/admin/policy/rollback", { method: "POST" });
    setPolicyVersion(res.version);
    $("tune-status").textContent = `rolled back: policy version ${res.version}`;
  } catch (err) {
    $("tune-status").textContent = err.message;
  }
}

export function initTune() {
  $("tune-score").addEventListener("click", score);
  for (const id of ["tune-think", "tune-medium", "tune-high", "tune-budget-low", "tune-budget-medium", "tune-budget-high"]) {
    $(id).addEventListener("change", (event) => {
      if (event.target.value.trim() !== "") evaluate(); // an emptied field waits for its new value
    });
  }
  $("tune-export").addEventListener("click", exportChange);
  $("tune-apply").addEventListener("click", apply);
  $("tune-rollback").addEventListener("click", rollback);
  return { visible() {} };
}
