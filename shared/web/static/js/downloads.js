// The download queue: each queued or running row follows its download live (app.js's
// watchDownload: Socket.IO, or polling without it); Cancel (POST /api/downloads/<id>/cancel)
// and, for managers, Remove a finished one (DELETE /api/downloads/<id>).
// Needs api.js (window.figway) and app.js (watchDownload, FINISHED).
"use strict";

(() => {
  const { api, busy } = window.figway;
  let status = null;

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
    await busy(button, status, async () => {
      const download = await api.post(button.dataset.cancel);
      show(row, download);
      return "Download #" + download.id + " cancelled.";
    });
  }

  async function remove(button, row) {
    await busy(button, status, async () => {
      await api.del(button.dataset.removeDownload);
      row.remove();
      return "Download #" + row.dataset.downloadRow + " removed.";
    });
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
