// Playlists: on /playlists, create one, and on each playlist its owner (or an admin) may
// rename, delete, reorder and remove entries; on a video's page, add it to one of the
// caller's playlists. Everything the actions need (entry ids, who owns what) comes from the
// JSON API, so the page works whichever side rendered it. Needs api.js (window.figway).
"use strict";

(() => {
  const { api, busy, currentUser, el, fields, hasRole, say } = window.figway;

  // --- /playlists ---------------------------------------------------------------------

  function statusOf(node) {
    return node.querySelector("[data-status]");
  }

  async function createPlaylist(form) {
    const data = fields(form);
    const body = { name: data.name, is_public: data.is_public };
    if (data.description) body.description = data.description;
    const created = await busy(form, statusOf(form), async () => {
      await api.post("/api/playlists", body);
      return "Created.";
    });
    // The server renders the list in its order (by name): show the new one where it belongs.
    if (created) window.location.reload();
  }

  function countText(n) {
    return n + " video" + (n === 1 ? "" : "s");
  }

  // The playlist's entries (GET /api/playlists/<id>'s `entries`), each with its controls.
  function renderEntries(panel, playlist) {
    const holder = panel.querySelector("[data-entries]");
    const count = panel.querySelector("[data-video-count]");
    if (count) count.textContent = countText(playlist.entries.length);
    if (!holder) return;
    if (playlist.entries.length === 0) {
      holder.replaceChildren(el("p", { class: "muted", text: "Empty." }));
      return;
    }
    const ids = playlist.entries.map((entry) => entry.id);
    const last = ids.length - 1;
    const items = playlist.entries.map((entry, i) =>
      el(
        "li",
        { dataset: { entry: String(entry.id) } },
        el("a", { href: "/videos/" + entry.video_id, text: entry.title }),
        " ",
        el("span", { class: "muted", text: "by " + entry.artist_name }),
        " ",
        el(
          "span",
          { class: "entry-tools" },
          el("button", {
            type: "button",
            class: "button subtle",
            "data-entry-move": "up",
            "aria-label": "Move " + entry.title + " up",
            disabled: i === 0,
            text: "↑",
          }),
          el("button", {
            type: "button",
            class: "button subtle",
            "data-entry-move": "down",
            "aria-label": "Move " + entry.title + " down",
            disabled: i === last,
            text: "↓",
          }),
          el("button", {
            type: "button",
            class: "button subtle",
            "data-entry-remove": "",
            "aria-label": "Remove " + entry.title,
            text: "Remove",
          }),
        ),
      ),
    );
    holder.replaceChildren(el("ol", { dataset: { entryIds: ids.join(",") } }, ...items));
  }

  async function loadEntries(panel) {
    const playlist = await api.get("/api/playlists/" + panel.dataset.playlist);
    renderEntries(panel, playlist);
  }

  function entryButtons(panel) {
    return panel.querySelectorAll("[data-entries] button");
  }

  async function moveEntry(button) {
    const panel = button.closest("[data-playlist]");
    const item = button.closest("[data-entry]");
    const ids = item.parentElement.dataset.entryIds.split(",").map(Number);
    const from = ids.indexOf(Number(item.dataset.entry));
    const to = button.dataset.entryMove === "up" ? from - 1 : from + 1;
    if (from < 0 || to < 0 || to >= ids.length) return;
    [ids[from], ids[to]] = [ids[to], ids[from]];
    // Every entry's buttons wait: an order computed from the list before this answer is stale.
    await busy(entryButtons(panel), statusOf(panel), async () => {
      const url = "/api/playlists/" + panel.dataset.playlist + "/videos/reorder";
      renderEntries(panel, await api.post(url, { entry_ids: ids }));
    });
  }

  async function removeEntry(button) {
    const panel = button.closest("[data-playlist]");
    const entry = button.closest("[data-entry]").dataset.entry;
    await busy(entryButtons(panel), statusOf(panel), async () => {
      await api.del("/api/playlists/" + panel.dataset.playlist + "/videos/" + entry);
      // Positions renumber on the server: show its order, not a local guess.
      await loadEntries(panel);
    });
  }

  async function renamePlaylist(form) {
    const panel = form.closest("[data-playlist]");
    const name = fields(form).name;
    await busy(form, statusOf(panel), async () => {
      const updated = await api.put("/api/playlists/" + panel.dataset.playlist, { name });
      panel.querySelector("[data-playlist-name]").textContent = updated.name;
      return "Renamed.";
    });
  }

  async function deletePlaylist(button) {
    const panel = button.closest("[data-playlist]");
    const name = panel.querySelector("[data-playlist-name]").textContent;
    if (!window.confirm("Delete the playlist “" + name + "”? Its entries go with it.")) return;
    const done = await busy(button, statusOf(panel), async () => {
      await api.del("/api/playlists/" + panel.dataset.playlist);
      return "Deleted.";
    });
    if (!done) return;
    panel.remove();
    const count = document.querySelector("[data-playlists-count]");
    const left = document.querySelectorAll("[data-playlist]").length;
    if (count) count.textContent = String(left);
    if (left === 0) {
      const list = document.querySelector("ul.playlists");
      if (list) list.replaceWith(el("p", { class: "muted", text: "No playlists yet." }));
    }
  }

  // The owner's (or an admin's) tools on each playlist they may change, and its entries
  // with their ids from the API.
  async function setUpPlaylists(panels) {
    let me;
    try {
      me = await currentUser();
    } catch (err) {
      for (const panel of panels) say(statusOf(panel), err.message, true);
      return;
    }
    if (!hasRole(me.role, "user")) return;
    await Promise.all(
      panels
        .filter((panel) => Number(panel.dataset.owner) === me.id || hasRole(me.role, "admin"))
        .map(async (panel) => {
          const tools = panel.querySelector("[data-playlist-tools]");
          if (tools) tools.hidden = false;
          try {
            await loadEntries(panel);
          } catch (err) {
            say(statusOf(panel), err.message, true);
          }
        }),
    );
  }

  // --- a video's page: add it to one of the caller's playlists ---------------------------

  async function setUpAddToPlaylist(box) {
    const form = box.querySelector("form");
    const select = form.querySelector("select");
    const status = statusOf(box);
    try {
      const [me, listed] = await Promise.all([currentUser(), api.get("/api/playlists")]);
      const mine = listed.playlists.filter((p) => p.owner_id === me.id);
      select.replaceChildren(...mine.map((p) => el("option", { value: String(p.id), text: p.name })));
      if (mine.length === 0) {
        form.hidden = true;
        box.append(el("p", { class: "muted" }, "You have no playlists yet: ", el("a", { href: "/playlists", text: "create one" }), "."));
      }
    } catch (err) {
      say(status, err.message, true);
    }
  }

  async function addToPlaylist(form) {
    const box = form.closest("[data-add-to-playlist]");
    const select = form.querySelector("select");
    const name = select.selectedOptions.length ? select.selectedOptions[0].textContent : "";
    await busy(form, statusOf(box), async () => {
      const url = "/api/playlists/" + select.value + "/videos";
      await api.post(url, { video_id: Number(box.dataset.addToPlaylist) });
      return "Added to " + name + ".";
    });
  }

  // --- wiring -----------------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", () => {
    const panels = Array.from(document.querySelectorAll("[data-playlist]"));
    if (panels.length) setUpPlaylists(panels);
    const box = document.querySelector("[data-add-to-playlist]");
    if (box) setUpAddToPlaylist(box);
  });

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    const action = form.matches("[data-playlist-create]")
      ? createPlaylist
      : form.matches("[data-playlist-rename]")
        ? renamePlaylist
        : form.matches("[data-add-to-playlist] form")
          ? addToPlaylist
          : null;
    if (action) {
      event.preventDefault();
      action(form);
    }
  });

  document.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    const move = target.closest("[data-entry-move]");
    const remove = target.closest("[data-entry-remove]");
    const drop = target.closest("[data-playlist-delete]");
    if (move) moveEntry(move);
    else if (remove) removeEntry(remove);
    else if (drop) deletePlaylist(drop);
  });
})();
