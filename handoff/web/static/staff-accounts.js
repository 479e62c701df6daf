/* casedesk staff accounts page (supervisors): list, add, disable, enable, end sessions, new password and
   roles, through /api/staff. Plain JS; what the server sends is only ever inserted with textContent. */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var staff = window.casedeskStaff, el = staff.el, api = staff.api;
  var accounts = [];

  var views = staff.views("staff-view", "supervisor");
  var show = views.show, showLogin = views.showLogin, denied = views.denied;
  function endSession(message) { staff.session = null; staff.save(); showLogin(message); }
  function status(text) { $("staff-status").textContent = text || ""; $("staff-error").textContent = ""; }
  function handle(err) {
    if (err && err.status === 401) endSession("Your session has ended. Please sign in again.");
    else if (err && err.status === 403) denied("The server refused: " + (err.message || "forbidden") + ".");
    else { $("staff-status").textContent = ""; $("staff-error").textContent = (err && err.message) || "Something went wrong."; }
  }
  function me() { return (staff.session && staff.session.agent) || {}; }

  function start() {
    $("agent-name").textContent = "Signed in as " + (me().display_name || me().username || "supervisor");
    if (!staff.hasRole("supervisor")) { denied(); return; }
    show("staff-view");
    load();
  }
  function load() {
    return api("GET", "/api/staff").then(function (res) { accounts = res.accounts || []; render(); }, handle);
  }

  function button(text, testid, onClick) {
    var b = el("button", { type: "button", "data-testid": testid }, text);
    b.addEventListener("click", onClick);
    return b;
  }
  function act(account, action, done) {
    return api("POST", "/api/staff/" + encodeURIComponent(account.id) + "/" + action).then(function (res) {
      status(done(res));
      if (account.id === me().id && action === "revoke") { endSession("Your sessions have ended. Please sign in again."); return; }
      return load();
    }, handle);
  }
  function render() {
    var body = $("accounts-body");
    body.textContent = "";
    accounts.forEach(function (a) {
      var tr = el("tr", { "data-testid": "account-row", "data-username": a.username });
      tr.appendChild(el("th", { scope: "row" }, a.username));
      tr.appendChild(el("td", {}, a.display_name));
      tr.appendChild(el("td", { "data-testid": "account-roles" }, a.roles.join(", ")));
      tr.appendChild(el("td", { "data-testid": "account-state" }, a.disabled ? "Disabled" : "Active"));
      tr.appendChild(el("td", { "data-testid": "account-sessions" }, a.sessions));
      var actions = el("td", {});
      if (a.disabled) {
        actions.appendChild(button("Enable", "account-enable", function () {
          act(a, "enable", function () { return a.username + " may sign in again."; });
        }));
      } else if (a.id !== me().id) {
        actions.appendChild(button("Disable", "account-disable", function () {
          act(a, "disable", function () { return a.username + " is disabled: its sessions have ended."; });
        }));
      }
      actions.appendChild(button("End sessions", "account-revoke", function () {
        act(a, "revoke", function (res) { return res.ended + " session(s) of " + a.username + " ended."; });
      }));
      tr.appendChild(actions);
      body.appendChild(tr);
    });
    var select = $("change-account"), chosen = select.value;
    select.textContent = "";
    accounts.forEach(function (a) { select.appendChild(el("option", { value: a.id }, a.username)); });
    if (chosen) select.value = chosen;
    showRoles();
  }
  function chosenAccount() {
    var id = $("change-account").value;
    return accounts.filter(function (a) { return a.id === id; })[0];
  }
  function showRoles() {
    var a = chosenAccount();
    document.querySelectorAll("input[name=change-role]").forEach(function (box) {
      box.checked = !!a && a.roles.indexOf(box.value) >= 0;
    });
  }
  function checked(name) {
    return Array.prototype.map.call(document.querySelectorAll("input[name=" + name + "]:checked"),
      function (box) { return box.value; });
  }
  function changed(a, what) {
    if (a.id === me().id) { endSession("Your " + what + " changed: sign in again."); return; }
    return load();
  }

  function boot() {
    staff.bindSignIn(start, function (message) { endSession(message); });
    $("change-account").addEventListener("change", showRoles);
    $("change-roles").addEventListener("click", function () {
      var a = chosenAccount();
      if (!a) return;
      api("PUT", "/api/staff/" + encodeURIComponent(a.id) + "/roles", { roles: checked("change-role") }).then(function (res) {
        status("Roles of " + a.username + ": " + res.account.roles.join(", ") + ".");
        return changed(a, "roles");
      }, handle);
    });
    $("change-password-submit").addEventListener("click", function () {
      var a = chosenAccount();
      if (!a) return;
      api("PUT", "/api/staff/" + encodeURIComponent(a.id) + "/password", { password: $("change-password").value }).then(function () {
        $("change-password").value = "";
        status("Password of " + a.username + " changed: its sessions have ended.");
        return changed(a, "password");
      }, handle);
    });
    $("add-form").addEventListener("submit", function (e) {
      e.preventDefault();
      var body = { username: $("add-username").value, password: $("add-password").value,
                   display_name: $("add-display-name").value, roles: checked("add-role") };
      api("POST", "/api/staff", body).then(function (res) {
        $("add-form").reset();
        status(res.account.username + " added.");
        return load();
      }, handle);
    });
    staff.load();
    if (staff.session) start(); else showLogin("");
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot); else boot();
})();
