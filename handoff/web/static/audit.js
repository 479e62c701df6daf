/* casedesk audit log page: the staff's actions, for supervisors (GET /api/audit, /api/audit.csv). Plain JS;
   every value goes in with textContent. */
(function () {
  "use strict";
  var PAGE = 100;
  var $ = function (id) { return document.getElementById(id); };
  var staff = window.casedeskStaff, el = staff.el, api = staff.api;
  var before = null;  // the next page's cursor (the API's next_before)

  var views = staff.views("audit-view", "supervisor");
  var show = views.show, showLogin = views.showLogin, denied = views.denied;
  function endSession(message) { staff.session = null; staff.save(); showLogin(message); }
  function handle(err) {
    if (err && err.status === 401) endSession("Your session has expired. Please sign in again.");
    else if (err && err.status === 403) denied("The server refused: " + err.message + ".");
    else $("audit-error").textContent = (err && err.message) || "Something went wrong.";
  }

  function filters() {
    var params = new URLSearchParams();
    [["from", "filter-from"], ["to", "filter-to"], ["actor", "filter-actor"], ["action", "filter-action"],
     ["target", "filter-target"]].forEach(function (pair) {
      var value = $(pair[1]).value.trim();
      if (value) params.set(pair[0], value);
    });
    return params;
  }

  function row(entry) {
    var tr = el("tr", { "data-testid": "audit-entry", "data-action": entry.action });
    tr.appendChild(el("td", { title: entry.at }, entry.at.slice(0, 19).replace("T", " ")));
    tr.appendChild(el("td", { title: entry.actor_id || "the casedesk command" }, entry.actor));
    tr.appendChild(el("td", {}, entry.action));
    tr.appendChild(el("td", {}, entry.target));
    var details = el("td");
    details.appendChild(el("code", {}, JSON.stringify(entry.details)));
    tr.appendChild(details);
    return tr;
  }

  function load(more) {
    var params = filters();
    params.set("limit", String(PAGE));
    if (more && before !== null) params.set("before", String(before));
    $("audit-error").textContent = "";
    $("audit-status").textContent = "Loading…";
    api("GET", "/api/audit?" + params.toString()).then(function (res) {
      var rows = $("audit-rows");
      if (!more) rows.textContent = "";
      res.entries.forEach(function (entry) { rows.appendChild(row(entry)); });
      before = res.next_before;
      $("audit-more").hidden = before === null;
      var shown = rows.children.length;
      var count = shown === 1 ? "1 entry" : shown + " entries";
      $("audit-status").textContent = shown ? count + (before === null ? "" : " so far") : "No entries match.";
    }, function (err) { $("audit-status").textContent = ""; handle(err); });
  }

  function start() {
    var agent = staff.session.agent || {};
    $("agent-name").textContent = "Signed in as " + (agent.display_name || agent.username || "agent");
    if (!staff.hasRole("supervisor")) { denied(); return; }
    show("audit-view");
    load(false);
  }

  document.addEventListener("DOMContentLoaded", function () {
    staff.bindSignIn(start, endSession);
    $("filters").addEventListener("submit", function (e) { e.preventDefault(); load(false); });
    $("audit-more").addEventListener("click", function () { load(true); });
    $("export-audit").addEventListener("click", function () {
      $("audit-error").textContent = "";
      staff.download("/api/audit.csv?" + filters().toString(), "audit.csv").catch(handle);
    });
    if (staff.load()) start(); else showLogin("");
  });
})();
