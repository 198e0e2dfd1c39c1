// One playlist's page, for its owner or an admin: rename (PUT /api/playlists/<id>), move an
// entry up or down (POST .../videos/reorder with the whole new order), remove an entry
// (DELETE .../videos/<entry_id>). Uses app.js (sendJson, failure).
"use strict";

(() => {
  let status = null;
  const say = (text) => {
    if (status) status.textContent = text;
  };

  async function rename(form) {
    const name = new FormData(form).get("name").trim();
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const result = await sendJson("PUT", form.dataset.rename, { name });
      if (result.ok) {
        document.querySelector("[data-playlist-name]").textContent = result.body.name;
        document.title = result.body.name + " · figway";
        say("Renamed.");
      } else {
        say(failure(result));
      }
    } catch (err) {
      say("Network error: " + err.message);
    } finally {
      button.disabled = false;
    }
  }

  function entryIds(list) {
    return [...list.querySelectorAll(":scope > li[data-entry]")].map((li) => Number(li.dataset.entry));
  }

  async function move(button, list) {
    const item = button.closest("li[data-entry]");
    const ids = entryIds(list);
    const at = ids.indexOf(Number(item.dataset.entry));
    const to = button.dataset.move === "up" ? at - 1 : at + 1;
    if (to < 0 || to >= ids.length) return;
    [ids[at], ids[to]] = [ids[to], ids[at]];
    button.disabled = true;
    try {
      const result = await sendJson("POST", list.dataset.entries + "/reorder", { entry_ids: ids });
      if (result.ok) {
        // The server's order is the truth: lay the items out as it answered.
        const byId = new Map([...list.children].map((li) => [Number(li.dataset.entry), li]));
        list.append(...result.body.entries.map((e) => byId.get(e.id)).filter(Boolean));
        say("Moved.");
      } else {
        say(failure(result));
      }
    } catch (err) {
      say("Network error: " + err.message);
    } finally {
      button.disabled = false;
      button.focus();
    }
  }

  async function remove(button, list) {
    const item = button.closest("li[data-entry]");
    button.disabled = true;
    try {
      const result = await sendJson("DELETE", list.dataset.entries + "/" + item.dataset.entry);
      if (result.ok) {
        item.remove();
        const left = list.children.length;
        document.querySelector("[data-entry-count]").textContent = left + " video" + (left === 1 ? "" : "s");
        say("Removed.");
        return;
      }
      say(failure(result));
    } catch (err) {
      say("Network error: " + err.message);
    }
    button.disabled = false;
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
