// The JSON API as the pages' action scripts call it: same-origin fetches riding on the
// session cookie (the server refuses a cookie write from another site, not one from its own
// pages), answers read as JSON, errors in the legacy shape {"error", "code"} made into text a
// person can read. Loaded before the scripts of an area (playlists.js, ...), which find it as
// window.figway. No inline scripts anywhere: handlers are attached through data attributes.
"use strict";

(() => {
  const ROLES = ["readonly", "user", "manager", "admin"];

  class ApiError extends Error {
    constructor(message, status, code) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  // One request; resolves to the parsed body of a 2xx answer, rejects with an ApiError
  // carrying the server's own message otherwise. `body` is sent as JSON, or as is when it is
  // FormData (a multipart upload: the browser writes the boundary into Content-Type).
  async function request(method, url, body) {
    const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (body instanceof FormData) {
      init.body = body;
    } else if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch (err) {
      throw new ApiError("Network error: " + err.message, 0, "NETWORK");
    }
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      // Not JSON (a proxy's error page): the status alone tells the story.
    }
    if (!response.ok) {
      const message = data && typeof data.error === "string" ? data.error : "Failed (HTTP " + response.status + ").";
      throw new ApiError(message, response.status, data && data.code);
    }
    return data;
  }

  const api = {
    get: (url) => request("GET", url),
    post: (url, body) => request("POST", url, body === undefined ? {} : body),
    put: (url, body) => request("PUT", url, body),
    del: (url) => request("DELETE", url),
  };

  // The signed-in user (GET /api/auth/me), asked once per page.
  let me = null;
  function currentUser() {
    if (me === null) me = api.get("/api/auth/me");
    return me;
  }

  function hasRole(role, weakest) {
    return ROLES.includes(role) && ROLES.indexOf(role) >= ROLES.indexOf(weakest);
  }

  // Runs `work` with `controls` disabled (a button, a list of them, or a form's every
  // control) and the status element saying what happens: "" on success unless `work` returns
  // text, the API's message on failure. Resolves to work's result, or undefined when it failed.
  async function busy(controls, status, work) {
    const list =
      controls instanceof HTMLFormElement
        ? Array.from(controls.elements)
        : controls instanceof Element
          ? [controls]
          : Array.from(controls);
    const wasDisabled = list.map((el) => el.disabled);
    for (const el of list) el.disabled = true;
    say(status, "Working…", false);
    try {
      const result = await work();
      say(status, typeof result === "string" ? result : "", false);
      return result;
    } catch (err) {
      say(status, err.message || String(err), true);
      return undefined;
    } finally {
      list.forEach((el, i) => {
        el.disabled = wasDisabled[i];
      });
    }
  }

  function say(status, text, isError) {
    if (!status) return;
    status.textContent = text;
    status.classList.toggle("error", Boolean(isError) && text !== "");
  }

  // A new element with attributes and children (strings become text nodes, never HTML).
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === false || value === null || value === undefined) continue;
      if (name === "text") node.textContent = value;
      else if (name === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  // A form's fields as an object of trimmed strings (checkboxes as booleans).
  function fields(form) {
    const out = {};
    for (const input of form.elements) {
      if (!input.name) continue;
      out[input.name] = input.type === "checkbox" ? input.checked : input.value.trim();
    }
    return out;
  }

  window.figway = { api, ApiError, currentUser, hasRole, busy, say, el, fields };
})();
