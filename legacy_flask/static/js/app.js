// Small progressive enhancements for the server-rendered pages. No inline scripts: every
// handler is attached here through data attributes, and text is set with textContent only.
"use strict";

async function postJson(url) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: "{}",
  });
  let body = null;
  try {
    body = await response.json();
  } catch (_) {
    // Not JSON (a proxy error page): the status alone tells the story.
  }
  return { ok: response.ok, status: response.status, body };
}

async function logOut(button) {
  button.disabled = true;
  try {
    await postJson("/auth/logout");
  } finally {
    // Whatever the answer, the login page is where a user who asked to leave belongs.
    window.location.assign("/login");
  }
}

async function queueDownload(button) {
  const status = button.parentElement.querySelector("[data-download-status]");
  button.disabled = true;
  const show = (text) => {
    if (status) status.textContent = text;
  };
  show("Queuing…");
  try {
    const result = await postJson(button.dataset.download);
    if (result.ok) {
      show("Queued (download #" + (result.body && result.body.download_id) + ").");
    } else {
      show((result.body && result.body.error) || "Failed (HTTP " + result.status + ").");
      button.disabled = false;
    }
  } catch (err) {
    show("Network error: " + err.message);
    button.disabled = false;
  }
}

document.addEventListener("click", (event) => {
  const target = event.target instanceof Element ? event.target : null;
  if (!target) return;
  const logout = target.closest("[data-logout]");
  if (logout) {
    event.preventDefault();
    logOut(logout);
    return;
  }
  const download = target.closest("[data-download]");
  if (download) {
    event.preventDefault();
    queueDownload(download);
  }
});
