// One playlist's page, for its owner or an admin: rename (PUT /api/playlists/<id>), move an
// entry up or down (POST .../videos/reorder with the whole new order), remove an entry
// (DELETE .../videos/<entry_id>). Needs api.js (window.figway).
"use strict";

(() => {
  const { api, busy } = window.figway;
  let status = null;

  async function rename(form) {
    const name = new FormData(form).get("name").trim();
    await busy(form.querySelector("button"), status, async () => {
      const playlist = await api.put(form.dataset.rename, { name });
      document.querySelector("[data-playlist-name]").textContent = playlist.name;
      document.title = playlist.name + " · figway";
      return "Renamed.";
    });
  }

  function entryIds(list) {
    return [...list.querySelectorAll(":scope > li[data-entry]")].map((li) => Number(li.dataset.entry));
  }

  // Every entry's buttons wait while one runs: an order computed before its answer is stale.
  const entryButtons = (list) => list.querySelectorAll("button");

  async function move(button, list) {
    const item = button.closest("li[data-entry]");
    const ids = entryIds(list);
    const at = ids.indexOf(Number(item.dataset.entry));
    const to = button.dataset.move === "up" ? at - 1 : at + 1;
    if (to < 0 || to >= ids.length) return;
    [ids[at], ids[to]] = [ids[to], ids[at]];
    await busy(entryButtons(list), status, async () => {
      const playlist = await api.post(list.dataset.entries + "/reorder", { entry_ids: ids });
      // The server's order is the truth: lay the items out as it answered.
      const byId = new Map([...list.children].map((li) => [Number(li.dataset.entry), li]));
      list.append(...playlist.entries.map((e) => byId.get(e.id)).filter(Boolean));
      return "Moved.";
    });
    button.focus();
  }

  async function remove(button, list) {
    const item = button.closest("li[data-entry]");
    await busy(entryButtons(list), status, async () => {
      await api.del(list.dataset.entries + "/" + item.dataset.entry);
      item.remove();
      const left = list.children.length;
      document.querySelector("[data-entry-count]").textContent = left + " video" + (left === 1 ? "" : "s");
      return "Removed.";
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    status = document.querySelector("[data-playlist-status]");
    const form = document.querySelector("[data-rename]");
    if (form) {
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        rename(form);
      });
    }
    const list = document.querySelector("[data-entries]");
    if (!list) return;
    list.addEventListener("click", (event) => {
      const target = event.target instanceof Element ? event.target : null;
      if (!target) return;
      const moving = target.closest("[data-move]");
      if (moving) move(moving, list);
      const removing = target.closest("[data-remove]");
      if (removing) remove(removing, list);
    });
  });
})();
