// Small progressive enhancements for the server-rendered pages. No inline scripts: every
// handler is attached here through data attributes, and text is set with textContent only.
"use strict";

// Every request of the pages goes through api.js (window.figway), loaded before this file.

async function logOut(button) {
  button.disabled = true;
  try {
    await window.figway.api.post("/auth/logout");
  } catch (_) {
    // Whatever the answer, the login page is where a user who asked to leave belongs.
  } finally {
    window.location.assign("/login");
  }
}

async function queueDownload(button) {
  const status = button.parentElement.querySelector("[data-download-status]");
  const show = (text) => {
    if (status) status.textContent = text;
  };
  button.disabled = true;
  show("Queuing…");
  let queued;
  try {
    queued = await window.figway.api.post(button.dataset.download);
  } catch (err) {
    show(err.message); // the API's reason, or the network's
    button.disabled = false;
    return;
  }
  const id = queued && queued.download_id;
  show("Queued (download #" + id + ").");
  if (Number.isInteger(id)) {
    const bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("data-download-bar", "");
    button.parentElement.append(bar);
    watchDownload(id, (download) => {
      bar.value = download.progress;
      show(describe(download));
    });
  }
}

// --- live download progress ------------------------------------------------------------
// Over Socket.IO (namespace /downloads: `watch` a download, then a `progress` message with
// its JSON after every change), whichever side serves /socket.io/; the client reconnects by
// itself and every (re)connect watches again. Without the Socket.IO client, or refused by
// the server, the page asks GET /api/downloads/<id> every second instead.

const FINISHED = new Set(["completed", "failed", "cancelled"]);
const POLL_MS = 1000;

function describe(download) {
  switch (download.status) {
    case "queued":
      return "Queued (download #" + download.id + ").";
    case "running":
      return "Downloading… " + download.progress + "%";
    case "completed":
      return "Downloaded (100%).";
    case "failed":
      return "Failed: " + (download.error_message || "unknown error");
    default:
      return "Download " + download.status + ".";
  }
}

let channel = null;
const watchers = new Map(); // download id -> callbacks

function openChannel() {
  if (channel !== null || typeof io !== "function") return channel;
  // Same origin, so the session cookie goes with it: the channel's auth is the page's.
  channel = io("/downloads", { reconnectionDelayMax: 2000 });
  channel.on("connect", () => {
    for (const id of watchers.keys()) watchOnce(id);
  });
  channel.on("progress", (download) => tell(download));
  channel.on("connect_error", (err) => {
    // Refused by the server (the legacy error body as its data): no point retrying; a
    // network error is retried by the client itself.
    if (err && err.data && err.data.code) {
      channel.close();
      for (const id of watchers.keys()) poll(id);
    }
  });
  return channel;
}

function watchOnce(id) {
  channel.emit("watch", { download: id }, (answer) => {
    if (answer && answer.status) tell(answer);
  });
}

function tell(download) {
  const callbacks = watchers.get(download.id);
  if (!callbacks) return;
  for (const callback of callbacks) callback(download);
  if (FINISHED.has(download.status)) {
    watchers.delete(download.id);
    if (channel !== null && channel.connected) channel.emit("unwatch", { download: download.id });
  }
}

async function poll(id) {
  while (watchers.has(id)) {
    try {
      tell(await window.figway.api.get("/api/downloads/" + id));
    } catch (_) {
      // Offline for a moment, or refused: ask again at the next tick.
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

function watchDownload(id, callback) {
  const known = watchers.get(id);
  if (known) {
    known.push(callback);
    return;
  }
  watchers.set(id, [callback]);
  const live = openChannel();
  if (live === null) {
    poll(id);
  } else if (live.connected) {
    watchOnce(id);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  // The downloads table of a video's page: its running rows follow their download.
  for (const cell of document.querySelectorAll("[data-download-live]")) {
    const id = Number(cell.dataset.downloadLive);
    if (Number.isInteger(id)) {
      watchDownload(id, (download) => {
        cell.textContent = download.progress + "%";
      });
    }
  }
});

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
