// Videos, for managers: edit one on its page (PUT /api/videos/<id>, only the fields that
// changed) and create one on /videos (POST /api/videos, then its page). The form's values
// come from the JSON API, not from the page, so it works whichever side rendered it. The
// server validates (a year out of range, a URL that is not http(s)) and its message is shown.
// Needs api.js (window.figway).
"use strict";

(() => {
  const { api, busy, el, fields, say } = window.figway;
  const EDITABLE = ["title", "year", "status", "url", "imvdb_id"];
  const NUMBERS = new Set(["year", "imvdb_id"]);

  function statusOf(form) {
    return form.querySelector("[data-status]");
  }

  // A field's value as the API takes it: "" is null (cleared), a whole number is a number;
  // anything else goes as typed, for the server to refuse with its own message.
  function apiValue(name, text) {
    if (text === "") return null;
    if (NUMBERS.has(name) && /^-?\d+$/.test(text)) return Number(text);
    return text;
  }

  function formText(value) {
    return value === null || value === undefined ? "" : String(value);
  }

  async function setUpEdit(form) {
    const video = await api.get("/api/videos/" + form.dataset.videoEdit);
    for (const name of EDITABLE) {
      const input = form.elements.namedItem(name);
      if (input) input.value = formText(video[name]);
    }
    form.dataset.loaded = JSON.stringify(video);
    form.hidden = false;
  }

  async function saveEdit(form) {
    const before = JSON.parse(form.dataset.loaded || "{}");
    const now = fields(form);
    const changes = {};
    for (const name of EDITABLE) {
      if (!(name in now)) continue;
      const value = apiValue(name, now[name]);
      if (value !== (before[name] === undefined ? null : before[name])) changes[name] = value;
    }
    if (Object.keys(changes).length === 0) {
      say(statusOf(form), "Nothing changed.", false);
      return;
    }
    const saved = await busy(form, statusOf(form), async () => {
      await api.put("/api/videos/" + form.dataset.videoEdit, changes);
      return "Saved.";
    });
    // The page's facts (status badge, links, year) are the server's to render.
    if (saved) window.location.reload();
  }

  // The artists to choose from, every page of GET /api/artists (its largest page is 200).
  async function allArtists() {
    const artists = [];
    for (let page = 1; ; page += 1) {
      const answer = await api.get("/api/artists?per_page=200&sort=name&page=" + page);
      artists.push(...answer.artists);
      if (page >= answer.pages) return artists;
    }
  }

  async function setUpCreate(form) {
    const select = form.elements.namedItem("artist_id");
    try {
      const artists = await allArtists();
      artists.sort((a, b) => a.name.localeCompare(b.name));
      select.replaceChildren(...artists.map((a) => el("option", { value: String(a.id), text: a.name })));
    } catch (err) {
      say(statusOf(form), err.message, true);
    }
  }

  async function create(form) {
    const data = fields(form);
    const body = { artist_id: Number(data.artist_id), title: data.title, status: data.status };
    for (const name of ["url", "year", "imvdb_id"]) {
      const value = apiValue(name, data[name] || "");
      if (value !== null) body[name] = value;
    }
    const made = await busy(form, statusOf(form), () => api.post("/api/videos", body));
    if (made && Number.isInteger(made.id)) window.location.assign("/videos/" + made.id);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const edit = document.querySelector("form[data-video-edit]");
    if (edit) {
      setUpEdit(edit).catch((err) => {
        const box = edit.closest("section") || edit;
        box.append(el("p", { class: "alert", role: "alert", text: err.message }));
      });
    }
    const createForm = document.querySelector("form[data-video-create]");
    if (createForm) setUpCreate(createForm);
  });

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    if (form.matches("[data-video-edit]")) {
      event.preventDefault();
      saveEdit(form);
    } else if (form.matches("[data-video-create]")) {
      event.preventDefault();
      create(form);
    }
  });
})();
