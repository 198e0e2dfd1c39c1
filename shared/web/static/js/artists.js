// Artists, for managers: import one from the metadata provider by name on /artists (POST
// /api/artists/import-from-imvdb, then its page), and upload an artist's image on its page
// (POST /api/artists/<id>/thumbnail, multipart field "file"), shown without a reload. The
// provider's and the server's refusals (no such artist, already imported, not an image) are
// shown as they come. Needs api.js (window.figway).
"use strict";

(() => {
  const { api, busy, el, fields } = window.figway;

  async function importArtist(form) {
    const name = fields(form).name;
    const artist = await busy(form, form.querySelector("[data-status]"), () =>
      api.post("/api/artists/import-from-imvdb", { name }),
    );
    if (artist && Number.isInteger(artist.id)) window.location.assign("/artists/" + artist.id);
  }

  async function uploadThumbnail(form) {
    const artistId = form.dataset.artistThumbnail;
    const input = form.elements.namedItem("file");
    if (!input.files.length) return;
    const upload = new FormData();
    upload.append("file", input.files[0]);
    const done = await busy(form, form.querySelector("[data-status]"), async () => {
      await api.post("/api/artists/" + artistId + "/thumbnail", upload);
      return "Uploaded.";
    });
    if (!done) return;
    form.reset();
    // The same URL serves the new image: a fresh query string makes the browser ask again.
    const src = "/api/artists/" + artistId + "/thumbnail?v=" + Date.now();
    let image = document.querySelector("img.artist-thumb");
    if (image === null) {
      image = el("img", { class: "artist-thumb", alt: "", width: 120, height: 120 });
      document.querySelector(".media-head").prepend(image);
    }
    image.src = src;
  }

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    if (form.matches("[data-artist-import]")) {
      event.preventDefault();
      importArtist(form);
    } else if (form.matches("[data-artist-thumbnail]")) {
      event.preventDefault();
      uploadThumbnail(form);
    }
  });
})();
