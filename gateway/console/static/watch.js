// Watch: the gateway's own metrics, polled every 2 s while the view is open; rates from successive totals.
import { api, el, fmt, showError } from "/console/static/api.js";
import { bars, sparklines } from "/console/static/chart.js";

const $ = (id) => document.getElementById(id);
const EFFORTS = ["none", "minimal", "low", "medium", "high", "xhigh"];
const HISTORY = 60;

const sum = (values) => values.reduce((a, b) => a + b, 0);

function rate(now, before, seconds) {
  return before === undefined || seconds <= 0 ? 0 : Math.max(0, (now - before) / seconds);
}

function render(data, history) {
  const requests = sum(Object.values(data.requests));
  const reasoning = sum(Object.values(data.tokens).map((t) => t.reasoning || 0));
  const last = history.at(-1);
  const now = performance.now() / 1000;
  const dt = last ? now - last.t : 0;
  history.push({ t: now, requests, reasoning, rps: rate(requests, last?.requests, dt), rtps: rate(reasoning, last?.reasoning, dt) });
  if (history.length > HISTORY) history.shift();
  const current = history.at(-1);
  $("watch-rps").textContent = fmt(current.rps, 1);
  $("watch-decisions").textContent = String(Math.round(sum(data.decisions.map((d) => d.count))));
  $("watch-rtps").textContent = fmt(current.rtps, 0);
  $("watch-hits").textContent = String(Math.round(sum(Object.values(data.budget_hits))));
  const levels = Object.values(data.shedding_level);
  $("watch-shedding").textContent = levels.length ? String(Math.max(...levels)) : "0";
  $("watch-failovers").textContent = String(Math.round(data.failovers));
  const sources = [...new Set(data.decisions.map((d) => d.source))].sort();
  const byEffort = {};
  for (const d of data.decisions) {
    (byEffort[d.effort] ||= []).push({ label: d.source, value: d.count, color: sources.indexOf(d.source) });
  }
  $("watch-sources").replaceChildren(...sources.map((s, i) => el("span", { class: `swatch c${i % 6}` }, s)));
  const order = (keys) => keys.sort((a, b) => EFFORTS.indexOf(a) - EFFORTS.indexOf(b));
  bars($("watch-decision-bars"), order(Object.keys(byEffort)).map((effort) => ({
    label: effort,
    value: sum(byEffort[effort].map((p) => p.value)),
    parts: byEffort[effort],
  })));
  bars($("watch-token-bars"), order(Object.keys(data.tokens)).map((effort) => ({ label: effort, value: data.tokens[effort].reasoning || 0 })));
  bars($("watch-hit-bars"), order(Object.keys(data.budget_hits)).map((effort) => ({ label: effort, value: data.budget_hits[effort] })));
  sparklines($("watch-spark"), [
    { label: "requests/s", values: history.map((h) => h.rps) },
    { label: "reasoning tokens/s", values: history.map((h) => h.rtps) },
  ]);
  const head = el("tr", {}, ...["pool", "endpoint", "health", "in flight", "load score", "ms/token", "ejections"].map((h) => el("th", {}, h)));
  const rows = data.endpoints.map((e) =>
    el("tr", { "data-endpoint": e.endpoint },
      el("td", {}, e.pool), el("td", {}, e.endpoint),
      el("td", { class: e.up ? "up" : "down" }, e.up ? "up" : "down"),
      el("td", {}, Math.round(e.inflight || 0)), el("td", {}, fmt(e.load_score, 2)),
      el("td", {}, e.tpot_seconds ? fmt(e.tpot_seconds * 1000, 1) : "–"), el("td", {}, Math.round(e.ejections || 0))),
  );
  $("watch-endpoints").replaceChildren(head, ...rows);
  $("watch-updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
  $("view-watch").dataset.samples = String(history.length);
}

export function initWatch() {
  const history = [];
  let timer = null;
  const poll = async () => {
    try {
      render(await api("/console/api/watch"), history);
      showError("");
    } catch (err) {
      showError(`Watch: ${err.message}`);
    }
  };
  return {
    visible(on) {
      if (on && timer === null) {
        poll();
        timer = setInterval(poll, 2000);
      } else if (!on && timer !== null) {
        clearInterval(timer);
        timer = null;
      }
    },
  };
}
