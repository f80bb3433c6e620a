// Try: a prompt, chat or agent trajectory → the gateway's decision report (/v1/route's, for any tenant).
import { api, el, fmt } from "/console/static/api.js";
import { bars } from "/console/static/chart.js";

const SAMPLES = {
  prompt: "Prove that the square root of 2 is irrational.",
  chat: JSON.stringify(
    [
      { role: "system", content: "You are a concise support assistant." },
      { role: "user", content: "My order #1234 has not arrived yet." },
      { role: "assistant", content: "Sorry about that! Could you confirm the delivery address?" },
      { role: "user", content: "It is 12 Main Street. Please rewrite my complaint politely for the courier." },
    ],
    null,
    2,
  ),
  agent: JSON.stringify(
    {
      tools: [{ type: "function", function: { name: "run_tests", description: "Run pytest on a path",
        parameters: { type: "object", properties: { path: { type: "string" } }, required: ["path"] } } }],
      messages: [
        { role: "user", content: "Fix the failing test in tests/test_parser.py" },
        { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function",
          function: { name: "run_tests", arguments: "{\"path\": \"tests/test_parser.py\"}" } }] },
        { role: "tool", tool_call_id: "call_1", content: "FAILED test_parser.py::test_nested - AssertionError: expected 3, got 2" },
      ],
    },
    null,
    2,
  ),
};

const $ = (id) => document.getElementById(id);

function options(select, values, selected) {
  for (const value of values) select.append(el("option", { value, selected: value === selected }, value));
}

// The chat-completions body for what the user typed, with the pickers' signals applied.
export function buildBody(input, pickers) {
  const text = input.trim();
  let body;
  if (text.startsWith("{") || text.startsWith("[")) {
    let parsed;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new Error(`the input looks like JSON but does not parse: ${err.message}`);
    }
    if (Array.isArray(parsed)) body = { messages: parsed };
    else if (parsed && Array.isArray(parsed.messages)) body = { ...parsed };
    else throw new Error("JSON input must be a list of messages or an object with 'messages'");
  } else {
    if (!text) throw new Error("type a prompt, or paste a chat as JSON");
    body = { messages: [{ role: "user", content: text }] };
  }
  body.model = pickers.model;
  if (pickers.effort) body.reasoning_effort = pickers.effort;
  if (pickers.thinking) {
    body.chat_template_kwargs = { ...(body.chat_template_kwargs || {}), enable_thinking: pickers.thinking === "true" };
  }
  if (pickers.budgetTokens) body.thinking = { type: "enabled", budget_tokens: Number(pickers.budgetTokens) };
  return body;
}

function renderPlan(report) {
  const box = $("try-plan");
  box.replaceChildren();
  const upstream = Array.isArray(report.upstream) ? report.upstream : null;
  if (!upstream) {
    box.append(el("p", {}, "Pools in order: ", el("b", { id: "try-out-plan" }, (report.plan || []).join(" → ") || "–")));
    return;
  }
  upstream.forEach((step, i) => {
    const head = [step.backend, step.mode, step.budget_mode && `budget: ${step.budget_mode}`, step.path]
      .filter(Boolean)
      .join(" · ");
    const warnings = (step.warnings || []).map((w) => el("li", {}, w));
    box.append(
      el("div", { class: "upstream", "data-backend": step.backend },
        el("h4", {}, `${i + 1}. ${head}`),
        warnings.length ? el("ul", { class: "warnings" }, warnings) : null,
        el("pre", { class: "upstream-body" }, JSON.stringify(step.body, null, 2))),
    );
  });
}

function render(report, previous) {
  $("try-result").hidden = false;
  $("try-out-effort").textContent = report.effort;
  $("try-out-budget").textContent = report.budget_label ?? String(report.budget);
  $("try-out-source").textContent = report.source + (report.capped ? " (capped)" : "");
  $("try-out-backend").textContent = report.backend;
  const step = report.step && (report.step.kind || report.step);
  $("try-step-tile").hidden = !step;
  $("try-out-step").textContent = typeof step === "string" ? step : JSON.stringify(step || "");
  $("try-out-reason").textContent = [report.reason, report.step && report.step.reason].filter(Boolean).join(" · ") || "–";
  const scores = Object.entries(report.scores || {});
  if (scores.length) bars($("try-scores"), scores.map(([label, value]) => ({ label, value })), (v) => fmt(v, 3));
  else $("try-scores").replaceChildren(el("p", { class: "muted" }, "no classifier scores: the effort came from " + report.source));
  const warnings = [...(report.warnings || [])];
  if (report.shed) warnings.unshift(`shed: ${report.shed}`);
  $("try-warnings").replaceChildren(...warnings.map((w) => el("li", {}, w)));
  $("try-warnings-box").hidden = warnings.length === 0;
  // the decision of every model call of an agent trajectory (only worth a table when there are several)
  const steps = Array.isArray(report.steps) ? report.steps : [];
  const head = el("tr", {}, ...["messages", "step", "effort", "budget", "source", "reason"].map((h) => el("th", {}, h)));
  const rows = steps.map((s) =>
    el("tr", {}, el("td", {}, s.messages), el("td", {}, s.step ? s.step.kind : "–"), el("td", {}, s.effort),
      el("td", {}, s.budget ?? "unlimited"), el("td", {}, s.source),
      el("td", { class: "muted" }, [s.reason, s.step && s.step.reason].filter(Boolean).join(" · "))),
  );
  $("try-steps").replaceChildren(head, ...rows);
  $("try-steps-box").hidden = steps.length < 2;
  renderPlan(report);
  $("try-raw").textContent = JSON.stringify(report, null, 2);
  const changes = [];
  if (previous) {
    for (const key of ["effort", "budget_label", "source", "backend"]) {
      if (previous[key] !== report[key]) changes.push(`${key} ${previous[key]} → ${report[key]}`);
    }
  }
  $("try-changes").textContent = previous ? (changes.length ? `changed: ${changes.join(", ")}` : "unchanged from the last try") : "";
}

export function initTry(info) {
  const models = [...Object.keys(info.models), ...Object.values(info.backends).map((b) => b.model)];
  options($("try-model"), models, models.includes("auto") ? "auto" : models[0]);
  options($("try-tenant"), Object.keys(info.tenants), "default");
  options($("try-effort"), info.efforts);
  options($("try-header"), info.efforts);
  for (const name of Object.keys(SAMPLES)) {
    $(`try-sample-${name}`).addEventListener("click", () => {
      $("try-input").value = SAMPLES[name];
    });
  }
  $("try-input").value = SAMPLES.prompt;
  let previous = null;
  const run = async () => {
    $("try-error").hidden = true;
    let body;
    try {
      body = buildBody($("try-input").value, {
        model: $("try-model").value,
        effort: $("try-effort").value,
        thinking: $("try-thinking").value,
        budgetTokens: $("try-budget-tokens").value,
      });
      const report = await api("/console/api/route", {
        method: "POST",
        json: { body, tenant: $("try-tenant").value, effort_header: $("try-header").value || null },
      });
      render(report, previous);
      previous = report;
      $("view-try").dataset.ready = "true";
    } catch (err) {
      $("try-error").textContent = err.message;
      $("try-error").hidden = false;
    }
  };
  $("try-run").addEventListener("click", run);
  return { visible() {} };
}
