// The search page: the library's matches are rendered by the server (GET /search?q=); this
// asks the metadata provider (GET /api/metadata/search) when the user says so, and lets a
// manager import an artist it found (POST /api/artists/import-from-imvdb).
// Uses app.js (getJson, sendJson, failure), which runs before DOMContentLoaded.
"use strict";

(() => {
  function resultItem(result, canImport) {
    const item = document.createElement("li");
    const name = document.createElement("strong");
    name.textContent = result.name;
    const count = document.createElement("span");
    count.className = "muted";
    const videos = result.video_count;
    count.textContent = Number.isInteger(videos) ? " " + videos + " video" + (videos === 1 ? "" : "s") : "";
    item.append(name, count);
    if (canImport) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "button subtle";
      button.textContent = "Import";
      button.dataset.importArtist = String(result.imvdb_id);
      button.setAttribute("aria-label", "Import " + result.name);
      item.append(" ", button);
    }
    return item;
  }

  async function searchProvider(form, section) {
    const status = section.querySelector("[data-provider-status]");
    const list = section.querySelector("[data-provider-results]");
    const q = new FormData(form).get("q").trim();
    if (!q) return;
    const button = form.querySelector("button");
    button.disabled = true;
    status.textContent = "Asking the provider…";
    list.replaceChildren();
    try {
      const result = await getJson("/api/metadata/search?q=" + encodeURIComponent(q));
      if (!result.ok) {
        status.textContent = failure(result);
        return;
      }
      const found = result.body.results;
      status.textContent = found.length ? found.length + " found." : "The provider knows no such artist.";
      const canImport = section.dataset.canImport === "1";
      list.replaceChildren(...found.map((r) => resultItem(r, canImport)));
    } catch (err) {
      status.textContent = "Network error: " + err.message;
    } finally {
      button.disabled = false;
    }
  }

  async function importArtist(button) {
    button.disabled = true;
    const done = document.createElement("span");
    done.className = "muted";
    done.setAttribute("role", "status");
    try {
      const result = await sendJson("POST", "/api/artists/import-from-imvdb", {
        imvdb_id: Number(button.dataset.importArtist),
      });
      if (result.ok) {
        const link = document.createElement("a");
        link.href = "/artists/" + result.body.id;
        link.textContent = "Imported: " + result.body.name;
        done.append(link);
        button.replaceWith(done);
        return;
      }
      done.textContent = " " + failure(result);
    } catch (err) {
      done.textContent = " Network error: " + err.message;
    }
    button.disabled = false;
    button.after(done);
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
