// The search page: the library's matches are rendered by the server (GET /search?q=); this
// asks the metadata provider (GET /api/metadata/search) when the user says so, and lets a
// manager import an artist it found (POST /api/artists/import-from-imvdb).
// Needs api.js (window.figway).
"use strict";

(() => {
  const { api, busy, el } = window.figway;

  function resultItem(result, canImport) {
    const videos = result.video_count;
    const count = Number.isInteger(videos) ? " " + videos + " video" + (videos === 1 ? "" : "s") : "";
    const item = el("li", {}, el("strong", { text: result.name }), el("span", { class: "muted", text: count }));
    if (canImport) {
      const button = el("button", {
        type: "button",
        class: "button subtle",
        text: "Import",
        "data-import-artist": String(result.imvdb_id),
        "aria-label": "Import " + result.name,
      });
      item.append(" ", button, " ", el("span", { class: "muted", role: "status", "data-import-status": true }));
    }
    return item;
  }

  async function searchProvider(form, section) {
    const status = section.querySelector("[data-provider-status]");
    const list = section.querySelector("[data-provider-results]");
    const q = new FormData(form).get("q").trim();
    if (!q) return;
    list.replaceChildren();
    await busy(form.querySelector("button"), status, async () => {
      status.textContent = "Asking the provider…";
      const { results } = await api.get("/api/metadata/search?q=" + encodeURIComponent(q));
      const canImport = section.dataset.canImport === "1";
      list.replaceChildren(...results.map((r) => resultItem(r, canImport)));
      return results.length ? results.length + " found." : "The provider knows no such artist.";
    });
  }

  async function importArtist(button) {
    const status = button.parentElement.querySelector("[data-import-status]");
    const artist = await busy(button, status, () =>
      api.post("/api/artists/import-from-imvdb", { imvdb_id: Number(button.dataset.importArtist) }),
    );
    if (artist === undefined) return; // the API's reason beside the button, there to try again
    status.replaceChildren(el("a", { href: "/artists/" + artist.id, text: "Imported: " + artist.name }));
    button.remove();
  }

  document.addEventListener("DOMContentLoaded", () => {
    const section = document.querySelector("[data-provider]");
    if (!section) return;
    const form = section.querySelector("[data-provider-search]");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      searchProvider(form, section);
    });
    section.addEventListener("click", (event) => {
      const target = event.target instanceof Element ? event.target.closest("[data-import-artist]") : null;
      if (target) importArtist(target);
    });
  });
})();
