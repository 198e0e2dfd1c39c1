// The download queue: each queued or running row follows its download live (app.js's
// watchDownload: Socket.IO, or polling without it); Cancel (POST /api/downloads/<id>/cancel)
// and, for managers, Remove a finished one (DELETE /api/downloads/<id>).
// Uses app.js (watchDownload, FINISHED, postJson, sendJson, failure).
"use strict";

(() => {
  let status = null;
  const say = (text) => {
    if (status) status.textContent = text;
  };

  // A row as the download now is: the same markup the server renders.
  function show(row, download) {
    const badge = document.createElement("span");
    badge.className = "badge status-" + download.status;
    badge.textContent = download.status;
    row.querySelector("[data-download-state]").replaceChildren(badge);
    row.querySelector("progress").value = download.progress;
    row.querySelector("[data-download-progress]").textContent = download.progress + "%";
    const ended = FINISHED.has(download.status);
    const cancel = row.querySelector("[data-cancel]");
    if (cancel) cancel.hidden = ended;
    const remove = row.querySelector("[data-remove-download]");
    if (remove) remove.hidden = !ended;
  }

  async function cancel(button, row) {
    button.disabled = true;
    try {
      const result = await postJson(button.dataset.cancel);
      if (result.ok) {
        show(row, result.body);
        say("Download #" + result.body.id + " cancelled.");
      } else {
        say(failure(result));
      }
    } catch (err) {
      say("Network error: " + err.message);
    } finally {
      button.disabled = false;
    }
  }

  async function remove(button, row) {
    button.disabled = true;
    try {
      const result = await sendJson("DELETE", button.dataset.removeDownload);
      if (result.ok) {
        say("Download #" + row.dataset.downloadRow + " removed.");
        row.remove();
        return;
      }
      say(failure(result));
    } catch (err) {
      say("Network error: " + err.message);
    }
    button.disabled = false;
  }

  document.addEventListener("DOMContentLoaded", () => {
    status = document.querySelector("[data-downloads-status]");
    for (const row of document.querySelectorAll("[data-download-row][data-live]")) {
      watchDownload(Number(row.dataset.downloadRow), (download) => show(row, download));
    }
    document.addEventListener("click", (event) => {
      const target = event.target instanceof Element ? event.target : null;
      const row = target && target.closest("[data-download-row]");
      if (!row) return;
      const cancelling = target.closest("[data-cancel]");
      if (cancelling) cancel(cancelling, row);
      const removing = target.closest("[data-remove-download]");
      if (removing) remove(removing, row);
    });
  });
})();
