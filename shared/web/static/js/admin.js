// The admin page: create a user (POST /api/users), change a role (PUT
// /api/users/<id>/role), delete a user (DELETE /api/users/<id>), read the log again
// (GET /api/admin/logs). Uses app.js (sendJson, getJson, failure).
"use strict";

(() => {
  let status = null;
  const say = (text) => {
    if (status) status.textContent = text;
  };

  async function createUser(form) {
    const fields = new FormData(form);
    const data = {
      username: fields.get("username").trim(),
      password: fields.get("password"),
      role: fields.get("role"),
    };
    const email = fields.get("email").trim();
    if (email) data.email = email;
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const result = await sendJson("POST", form.dataset.createUser, data);
      if (result.ok) {
        // The table is the server's to render (dates, the role menus): read it again.
        window.location.reload();
        return;
      }
      say(failure(result));
    } catch (err) {
      say("Network error: " + err.message);
    }
    button.disabled = false;
  }

  async function setRole(select) {
    const before = select.dataset.current;
    select.disabled = true;
    try {
      const result = await sendJson("PUT", select.dataset.role, { role: select.value });
      if (result.ok) {
        select.dataset.current = result.body.role;
        say(result.body.username + " is now " + result.body.role + ".");
      } else {
        select.value = before;
        say(failure(result));
      }
    } catch (err) {
      select.value = before;
      say("Network error: " + err.message);
    } finally {
      select.disabled = false;
    }
  }

  async function deleteUser(button) {
    const row = button.closest("tr");
    const name = row.querySelector("td").firstChild.textContent.trim();
    if (!window.confirm("Delete " + name + "?")) return;
    button.disabled = true;
    try {
      const result = await sendJson("DELETE", button.dataset.deleteUser);
      if (result.ok) {
        row.remove();
        say(name + " deleted.");
        return;
      }
      say(failure(result));
    } catch (err) {
      say("Network error: " + err.message);
    }
    button.disabled = false;
  }

  async function refreshLog(button) {
    button.disabled = true;
    try {
      const result = await getJson(button.dataset.refreshLog);
      if (result.ok) {
        const lines = result.body.lines;
        document.querySelector("[data-log]").textContent = lines.length
          ? lines.map((line) => line + "\n").join("")
          : "The log is empty.";
      } else {
        say(failure(result));
      }
    } catch (err) {
      say("Network error: " + err.message);
    } finally {
      button.disabled = false;
    }
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
