// Sign in: check the admin token with the gateway (which sets the page cookie), keep it for this tab only.
const form = document.getElementById("login-form");
const error = document.getElementById("login-error");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const token = document.getElementById("login-token").value.trim();
  error.hidden = true;
  const res = await fetch("/console/session", {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
    credentials: "same-origin",
  });
  if (res.status === 204) {
    sessionStorage.setItem("thinkgate-admin-token", token);
    location.replace("/console");
    return;
  }
  let message = `sign-in failed (HTTP ${res.status})`;
  try {
    message = (await res.json()).error.message;
  } catch {
    /* keep the status line */
  }
  error.textContent = message;
  error.hidden = false;
});
