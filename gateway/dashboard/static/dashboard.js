// figway's dashboard: its buttons call the admin API (always with the X-Figway-Admin
// header, which the API requires of a cookie-signed-in browser), and every 5 s the
// per-route figures are fetched again (/_figway/figures). The rest is server-rendered:
// after a change, the page's sections are fetched again and swapped in.
"use strict";
(function () {
  const answer = document.getElementById("answer");
  const REFRESH_MS = 5000;

  async function call(method, path, body) {
    const response = await fetch(path, {
      method: method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-Figway-Admin": "1", "Accept": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) {
      const said = data && (data.error || data.message);
      throw new Error(`${response.status}: ${said || response.statusText}`);
    }
    return data;
  }

  function say(text, ok) {
    answer.textContent = text;
    answer.className = ok ? "ok" : "failed";
  }

  function reasonAndForce(body, withForce) {
    const reason = document.getElementById("reason").value.trim();
    if (reason) body.reason = reason;
    if (withForce && document.getElementById("force").checked) body.force = true;
    return body;
  }

  function number(row, name) {
    const text = row.querySelector(`input[name=${name}]`).value.trim();
    return text === "" ? null : Number(text);
  }

  function describe(data) {
    if (data && Array.isArray(data.changed)) {
      if (!data.changed.length) return "nothing to change";
      return data.changed.map((c) => `${c.route}: ${c.from_owner} → ${c.to_owner}`).join("\n");
    }
    if (data && "weight" in data) return `${data.route}: canary ${data.weight === null ? "off" : data.weight + "%"}`;
    if (data && "sample" in data) return `${data.route}: shadow ${data.sample === null ? "off" : data.sample + "%"}`;
    return "done";
  }

  // What each button asks of the admin API.
  const actions = {
    "flip": (el, row) => ["/_figway/flip", reasonAndForce({ route: row.dataset.route, to: el.dataset.to }, true)],
    "canary": (el, row) => ["/_figway/canary", reasonAndForce({ route: row.dataset.route, weight: number(row, "weight") })],
    "canary-off": (el, row) => ["/_figway/canary", reasonAndForce({ route: row.dataset.route, weight: null })],
    "shadow": (el, row) => ["/_figway/shadow", reasonAndForce({ route: row.dataset.route, sample: number(row, "sample") })],
    "shadow-off": (el, row) => ["/_figway/shadow", reasonAndForce({ route: row.dataset.route, sample: null })],
    "rollout": (el) => ["/_figway/rollout", reasonAndForce({ phase: Number(el.dataset.phase) }, true)],
    "rollback-phase": (el) => ["/_figway/rollback", reasonAndForce({ phase: Number(el.dataset.phase) })],
    "rollback-all": () => ["/_figway/rollback", reasonAndForce({ all: true })],
  };

  document.addEventListener("click", async (event) => {
    const el = event.target.closest("button[data-action]");
    if (!el || !(el.dataset.action in actions)) return;
    if (el.dataset.action === "rollback-all" && !window.confirm("Roll every route back to flask?")) return;
    const row = el.closest("tr[data-route]");
    const [path, body] = actions[el.dataset.action](el, row);
    el.disabled = true;
    say("…", true);
    try {
      const data = await call("POST", path, body);
      say(describe(data), true);
      await reload();
    } catch (error) {
      say(error.message, false);
    } finally {
      el.disabled = false;
    }
  });

  // The server-rendered sections again (owners, states, history, chart), swapped in.
  async function reload() {
    const response = await fetch("/_figway/", { credentials: "same-origin" });
    if (!response.ok) throw new Error(`reloading the page: ${response.status}`);
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    for (const section of document.querySelectorAll("[data-section]")) {
      const next = fresh.getElementById(section.id);
      if (next) section.replaceWith(next);
    }
  }

  async function refreshFigures() {
    if (document.hidden) return;
    let data;
    try {
      data = await call("GET", "/_figway/figures");
    } catch (error) {
      say(`refreshing the figures: ${error.message}`, false);
      return;
    }
    for (const row of document.querySelectorAll("tr[data-route]")) {
      const sides = data.routes[row.dataset.route] || {};
      for (const cell of row.querySelectorAll("td[data-fig]")) {
        const figs = sides[cell.dataset.fig];
        cell.textContent = figs ? figs.text : "–";
      }
      const match = row.querySelector("[data-shadow]");
      if (match) match.textContent = data.shadow[row.dataset.route] || "";
    }
  }

  window.setInterval(refreshFigures, REFRESH_MS);
})();
