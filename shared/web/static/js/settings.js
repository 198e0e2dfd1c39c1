// Settings, for admins: edit a value in place and add a setting (PUT /api/settings/<key>,
// {"value": <any JSON>}). A value is typed as text, a number, true/false or JSON; what does
// not read as its type is refused here, and what the server refuses (a key of the wrong
// shape) shows its message. The current value comes from GET /api/settings/<key>. Needs
// api.js (window.figway).
"use strict";

(() => {
  const { api, busy, el, fields, say } = window.figway;
  const KINDS = [
    ["text", "text"],
    ["number", "number"],
    ["boolean", "true / false"],
    ["json", "JSON"],
  ];

  class Invalid extends Error {}

  function kindOf(value) {
    if (typeof value === "string") return "text";
    if (typeof value === "number") return "number";
    if (typeof value === "boolean") return "boolean";
    return "json";
  }

  function asText(value) {
    return typeof value === "string" ? value : JSON.stringify(value);
  }

  // The value to send for what was typed, or Invalid with what is wrong.
  function parse(kind, text) {
    switch (kind) {
      case "text":
        return text;
      case "number": {
        const n = Number(text);
        if (text === "" || !Number.isFinite(n)) throw new Invalid("Value: “" + text + "” is not a number.");
        return n;
      }
      case "boolean":
        if (text === "true" || text === "false") return text === "true";
        throw new Invalid("Value: type true or false.");
      default:
        try {
          return JSON.parse(text);
        } catch (_) {
          throw new Invalid("Value: not valid JSON.");
        }
    }
  }

  function kindSelect(selected) {
    return el(
      "select",
      { name: "kind", "aria-label": "Type" },
      ...KINDS.map(([value, label]) => el("option", { value, selected: value === selected, text: label })),
    );
  }

  async function putValue(key, kind, text, description) {
    const body = { value: parse(kind, text) };
    if (description) body.description = description;
    await api.put("/api/settings/" + encodeURIComponent(key), body);
  }

  // The row's value cell becomes a small form holding the stored value. A secret (masked in
  // the list) is never fetched into the page: its new value is typed unseen.
  async function startEdit(button) {
    const row = button.closest("[data-setting]");
    const cell = row.querySelector("[data-setting-value]");
    const key = row.dataset.setting;
    const status = el("span", { class: "muted small", "data-status": "", role: "status" });
    const secret = cell.dataset.settingValue === "********";
    const setting = secret
      ? { value: "" }
      : await busy(button, status, () => api.get("/api/settings/" + encodeURIComponent(key)));
    if (!setting) {
      cell.append(status);
      return;
    }
    const kind = kindOf(setting.value);
    const form = el(
      "form",
      { class: "inline", "data-setting-form": "" },
      kindSelect(kind),
      el("input", {
        name: "value",
        type: secret ? "password" : "text",
        placeholder: secret ? "new value" : null,
        "aria-label": "Value of " + key,
        autocomplete: "off",
      }),
      el("button", { type: "submit", class: "button primary", text: "Save" }),
      el("button", { type: "button", class: "button subtle", "data-setting-cancel": "", text: "Cancel" }),
      status,
    );
    form.elements.namedItem("value").value = asText(setting.value);
    cell.querySelector("code").hidden = true;
    cell.append(form);
    button.hidden = true;
    form.elements.namedItem("value").focus();
  }

  function cancelEdit(button) {
    const row = button.closest("[data-setting]");
    row.querySelector("[data-setting-form]").remove();
    row.querySelector("[data-setting-value] code").hidden = false;
    row.querySelector("[data-setting-edit]").hidden = false;
  }

  async function saveEdit(form) {
    const key = form.closest("[data-setting]").dataset.setting;
    const data = fields(form);
    // fields() trims: a text value keeps its spaces as typed.
    const text = data.kind === "text" ? form.elements.namedItem("value").value : data.value;
    const saved = await busy(form, form.querySelector("[data-status]"), async () => {
      await putValue(key, data.kind, text);
      return "Saved.";
    });
    // The table (masked secrets, values as the server writes them) is the server's to render.
    if (saved) window.location.reload();
  }

  async function add(form) {
    const data = fields(form);
    const text = data.kind === "text" ? form.elements.namedItem("value").value : data.value;
    const saved = await busy(form, form.querySelector("[data-status]"), async () => {
      await putValue(data.key, data.kind, text, data.description);
      return "Saved.";
    });
    if (saved) window.location.reload();
  }

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    if (form.matches("[data-setting-form]")) {
      event.preventDefault();
      saveEdit(form);
    } else if (form.matches("[data-setting-add]")) {
      event.preventDefault();
      add(form);
    }
  });

  document.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    const edit = target.closest("[data-setting-edit]");
    const cancel = target.closest("[data-setting-cancel]");
    if (edit) startEdit(edit);
    else if (cancel) cancelEdit(cancel);
  });
})();
