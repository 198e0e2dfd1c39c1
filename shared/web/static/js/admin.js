// The admin page: create a user (POST /api/users), change a role (PUT
// /api/users/<id>/role), delete a user (DELETE /api/users/<id>), read the log again
// (GET /api/admin/logs). Needs api.js (window.figway).
"use strict";

(() => {
  const { api, busy } = window.figway;
  let status = null;

  async function createUser(form) {
    const fields = new FormData(form);
    const data = {
      username: fields.get("username").trim(),
      password: fields.get("password"),
      role: fields.get("role"),
    };
    const email = fields.get("email").trim();
    if (email) data.email = email;
    const created = await busy(form.querySelector("button"), status, () =>
      api.post(form.dataset.createUser, data),
    );
    // The table is the server's to render (dates, the role menus): read it again.
    if (created !== undefined) window.location.reload();
  }

  async function setRole(select) {
    const before = select.dataset.current;
    const changed = await busy(select, status, async () => {
      const user = await api.put(select.dataset.role, { role: select.value });
      select.dataset.current = user.role;
      return user.username + " is now " + user.role + ".";
    });
    if (changed === undefined) select.value = before;
  }

  async function deleteUser(button) {
    const row = button.closest("tr");
    const name = row.querySelector("td").firstChild.textContent.trim();
    if (!window.confirm("Delete " + name + "?")) return;
    await busy(button, status, async () => {
      await api.del(button.dataset.deleteUser);
      row.remove();
      return name + " deleted.";
    });
  }

  async function refreshLog(button) {
    await busy(button, status, async () => {
      const { lines } = await api.get(button.dataset.refreshLog);
      document.querySelector("[data-log]").textContent = lines.length
        ? lines.map((line) => line + "\n").join("")
        : "The log is empty.";
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    status = document.querySelector("[data-users-status]");
    const form = document.querySelector("[data-create-user]");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      createUser(form);
    });
    for (const select of document.querySelectorAll("[data-role]")) {
      select.dataset.current = select.value;
      select.addEventListener("change", () => setRole(select));
    }
    document.addEventListener("click", (event) => {
      const target = event.target instanceof Element ? event.target : null;
      if (!target) return;
      const deleting = target.closest("[data-delete-user]");
      if (deleting) deleteUser(deleting);
      const refreshing = target.closest("[data-refresh-log]");
      if (refreshing) refreshLog(refreshing);
    });
  });
})();
