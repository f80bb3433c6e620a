// The console's entry: sign-in state, tabs, and the three views.
import { api, setPolicyVersion, showError, signOut, token } from "/console/static/api.js";
import { initTry } from "/console/static/try.js";
import { initTune } from "/console/static/tune.js";
import { initWatch } from "/console/static/watch.js";

const views = { try: null, tune: null, watch: null };

function show(name) {
  for (const tab of document.querySelectorAll("[role=tab]")) {
    tab.setAttribute("aria-selected", String(tab.dataset.view === name));
  }
  for (const key of Object.keys(views)) {
    document.getElementById(`view-${key}`).hidden = key !== name;
    views[key]?.visible?.(key === name);
  }
  history.replaceState(null, "", `#${name}`);
}

async function main() {
  if (!token()) {
    await signOut(); // the page cookie without the token (a new tab): sign in again
    return;
  }
  document.getElementById("sign-out").addEventListener("click", signOut);
  let info;
  try {
    info = await api("/console/api/info");
  } catch (err) {
    if (err.status === 401 || err.status === 403) return signOut();
    showError(err.message);
    return;
  }
  setPolicyVersion(info.policy_version);
  views.try = initTry(info);
  views.tune = initTune(info);
  views.watch = initWatch();
  for (const tab of document.querySelectorAll("[role=tab]")) {
    tab.addEventListener("click", () => show(tab.dataset.view));
  }
  const start = location.hash.slice(1);
  show(start in views ? start : "try");
  document.body.dataset.ready = "true";
  performance.mark("console-ready"); // read by benchmarks/console_load.py
}

main();
