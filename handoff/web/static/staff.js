/* What the agent panel, the reports and the audit log pages share: the sign-in, kept in sessionStorage (the
   pages of a tab share it); REST calls with its token, failing with the app's one error shape ({code,
   message} and the HTTP status); downloads (CSV exports); the sign-in form; and el(), which puts text in
   only with textContent. */
window.casedeskStaff = (function () {
  "use strict";
  var STORE_KEY = "casedesk.agent";
  var $ = function (id) { return document.getElementById(id); };
  var staff = { session: null };  // {token, agent}

  staff.el = function (tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (k === "className") node.className = v;
      else if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v === true ? "" : v);
    });
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  };

  staff.load = function () {
    try { var s = JSON.parse(sessionStorage.getItem(STORE_KEY)); staff.session = s && s.token ? s : null; }
    catch (e) { staff.session = null; }
    return staff.session;
  };
  staff.save = function () {
    if (staff.session) sessionStorage.setItem(STORE_KEY, JSON.stringify(staff.session));
    else sessionStorage.removeItem(STORE_KEY);
  };
  // Why the server ended a socket's sign-in (the /agent event session_ended).
  var ENDED = { signed_out: "You were signed out.", disabled: "Your account was disabled.",
                revoked: "A supervisor ended your sessions.", password_changed: "Your password was changed.",
                roles_changed: "Your roles were changed.", expired: "Your session has expired.",
                ended: "Your session was ended." };
  staff.ended = function (reason) { return ENDED[reason] || "Your session has ended."; };
  staff.hasRole = function (role) {
    return ((staff.session && staff.session.agent && staff.session.agent.roles) || []).indexOf(role) >= 0;
  };

  // fetch() with the sign-in's token; the response as it came (for downloads).
  staff.request = function (method, path, body) {
    var headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (staff.session) headers.Authorization = "Bearer " + staff.session.token;
    return fetch(path, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body) });
  };
  // A refused response as the error it carries.
  staff.failure = function (r) {
    return r.json().catch(function () { return {}; }).then(function (d) {
      var err = (d && d.error) || { code: "internal", message: "Request failed (" + r.status + ")" };
      err.status = r.status;
      throw err;
    });
  };
  staff.api = function (method, path, body) {
    return staff.request(method, path, body).then(function (r) { return r.ok ? r.json() : staff.failure(r); });
  };

  // GET path and save what it answers as a file (the server's filename, else fallback); rejects with the error.
  staff.download = function (path, fallback) {
    return staff.request("GET", path).then(function (r) {
      if (!r.ok) return staff.failure(r);
      var match = /filename="([^"]+)"/.exec(r.headers.get("Content-Disposition") || "");
      return r.blob().then(function (blob) {
        var url = URL.createObjectURL(blob);
        var a = staff.el("a", { href: url, download: match ? match[1] : fallback });
        document.body.appendChild(a); a.click(); a.remove();
        setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
      });
    });
  };

  // A staff page's three views: the sign-in (#login-view), "no access" (#denied-view) and its own (``main``),
  // which needs ``role``; ``hint`` follows the "no access" message.
  staff.views = function (main, role, hint) {
    var v = {};
    v.show = function (view) {
      ["login-view", "denied-view", main].forEach(function (id) { $(id).hidden = id !== view; });
      $("session").hidden = view === "login-view";
    };
    v.showLogin = function (message) {
      v.show("login-view");
      $("login-error").textContent = message || "";
      $("login-username").focus();
    };
    v.denied = function (message) {
      var who = staff.session && staff.session.agent ? staff.session.agent.username : "this account";
      $("denied-message").textContent = message ||
        ("You are signed in as " + who + ", which does not have the " + role + " role." + (hint ? " " + hint : ""));
      v.show("denied-view");
    };
    return v;
  };

  // The sign-in form (#login-form, #login-username, #login-password, #login-submit, #login-error) and the
  // sign-out button (#signout): signedIn() after a sign-in, signedOut("") after a sign-out.
  staff.bindSignIn = function (signedIn, signedOut) {
    $("login-form").addEventListener("submit", function (e) {
      e.preventDefault();
      var user = $("login-username").value.trim(), pass = $("login-password").value;
      if (!user || !pass) { $("login-error").textContent = "Enter your username and password."; return; }
      $("login-submit").disabled = true;
      $("login-error").textContent = "";
      staff.api("POST", "/api/agent/login", { username: user, password: pass }).then(function (res) {
        staff.session = { token: res.token, agent: res.agent || null };
        staff.save();
        $("login-password").value = "";
        signedIn();
      }, function (err) {
        $("login-error").textContent = err.message || "Sign-in failed.";
        $("login-password").focus();
      }).finally(function () { $("login-submit").disabled = false; });
    });
    $("signout").addEventListener("click", function () {
      var done = function () { signedOut(""); };
      if (staff.session) staff.api("POST", "/api/agent/logout").then(done, done); else done();
    });
  };
  return staff;
})();
