/* casedesk knowledge base editor (docs/editing.md). Plain JS on staff.js; data is only ever inserted with
   textContent. An edit sends the article's whole file: its front matter with the title and tags replaced
   (as JSON strings, which YAML reads as they are), then the body; the server checks it and names the file
   and line of anything wrong. */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var staff = window.casedeskStaff, el = staff.el, api = staff.api;
  var DELIMITER = "---";
  var current = null;  // the open article as the server sent it
  var DECISIONS = { answer: "Answer with one article", clarify: "Ask which of two articles",
                    escalate: "Hand over to a person" };

  var views = staff.views("editor-view", "editor",
    "Ask an administrator to give it to you (casedesk agent add NAME --role editor), then sign in again.");
  var show = views.show, showLogin = views.showLogin, denied = views.denied;
  function endSession(message) { staff.session = null; staff.save(); current = null; showLogin(message); }
  // true when the error ended the view (signed out, refused); else the caller shows it.
  function fatal(err) {
    if (err && err.status === 401) { endSession("Your session has expired. Please sign in again."); return true; }
    if (err && err.status === 403) { denied(err.message && "The server refused: " + err.message + "."); return true; }
    return false;
  }
  function problem(target, err) {
    if (!fatal(err)) $(target).textContent = (err && err.message) || "Something went wrong.";
  }

  function start() {
    var agent = staff.session.agent || {};
    $("agent-name").textContent = "Signed in as " + (agent.display_name || agent.username || "agent");
    if (!staff.hasRole("editor")) { denied(); return; }
    show("editor-view");
    search();
    document.dispatchEvent(new CustomEvent("casedesk:editor-ready"));  // editor-gaps.js
  }

  // ---- the list ----
  function search() {
    var q = $("search-q").value.trim();
    $("list-error").textContent = "";
    $("list-status").textContent = "Searching…";
    api("GET", "/api/articles" + (q ? "?q=" + encodeURIComponent(q) : "")).then(function (res) {
      renderList(res.articles, q);
    }, function (err) { $("list-status").textContent = ""; problem("list-error", err); });
  }
  function renderList(articles, q) {
    var box = document.querySelector('[data-testid="article-list"]');
    box.textContent = "";
    $("list-status").textContent = articles.length + (articles.length === 1 ? " article" : " articles") +
      (q ? " containing “" + q + "”" : "");
    var ul = box.appendChild(el("ul", { className: "article-list" }));
    articles.forEach(function (a) {
      var li = ul.appendChild(el("li", { "data-testid": "article-item", "data-id": a.id }));
      var b = li.appendChild(el("button", { type: "button", "aria-current": current && current.id === a.id ? "true" : null }));
      b.appendChild(el("span", { className: "title", "data-testid": "article-title" }, a.title));
      b.appendChild(el("span", { className: "meta", "data-testid": "article-summary" },
        (a.draft ? "draft · " : "") + a.locale + " · " + (a.tags.length ? a.tags.join(", ") : "no tags") + " · " +
        a.questions + (a.questions === 1 ? " example question" : " example questions")));
      b.addEventListener("click", function () { open(a.id, true); });
    });
  }

  // ---- one article ----
  function open(id, focus) {
    $("save-error").textContent = ""; $("save-status").textContent = ""; $("question-error").textContent = "";
    return api("GET", "/api/articles/" + encodeURIComponent(id)).then(function (res) {
      fill(res.article);
      if (focus) $("field-title").focus();
    }, function (err) { problem("list-error", err); });
  }
  function fill(article) {
    current = article;
    $("article-section").hidden = false;
    $("article-heading").textContent = article.title;
    $("article-meta").textContent = article.id + " · " + article.locale + " · " + article.path +
      (article.translation_of ? " · translation of " + article.translation_of : "") + (article.draft ? " · draft" : "");
    $("field-title").value = article.title;
    $("field-tags").value = article.tags.join(", ");
    $("field-body").value = article.body;
    var ul = $("questions"); ul.textContent = "";
    article.questions.forEach(function (q) { ul.appendChild(el("li", { "data-testid": "question" }, q)); });
    if (!article.questions.length) ul.appendChild(el("li", { className: "muted" }, "None yet."));
    Array.prototype.forEach.call(document.querySelectorAll('[data-testid="article-item"]'), function (li) {
      li.firstChild.setAttribute("aria-current", li.getAttribute("data-id") === article.id ? "true" : "false");
    });
    document.dispatchEvent(new CustomEvent("casedesk:article", { detail: article }));  // editor-gaps.js
  }

  // The file with the form's title, tags and body; the rest of the front matter as it was.
  function edited(text, title, tags, body) {
    var lines = text.replace(/\r\n/g, "\n").split("\n");
    var close = lines.indexOf(DELIMITER, 1);
    var front = lines.slice(1, close), out = [], seenTitle = false, seenTags = false;
    for (var i = 0; i < front.length; i++) {
      var m = /^(title|tags)\s*:/.exec(front[i]);
      if (!m) { out.push(front[i]); continue; }
      while (i + 1 < front.length && /^(\s|-)/.test(front[i + 1])) i++;  // the old value's further lines
      if (m[1] === "title") { out.push("title: " + JSON.stringify(title)); seenTitle = true; }
      else { seenTags = true; if (tags.length) out.push("tags: " + JSON.stringify(tags)); }
    }
    if (!seenTitle) out.splice(1, 0, "title: " + JSON.stringify(title));
    if (!seenTags && tags.length) out.push("tags: " + JSON.stringify(tags));
    return [DELIMITER].concat(out, [DELIMITER]).join("\n") + "\n" + body.replace(/\s+$/, "") + "\n";
  }
  function save() {
    if (!current) return;
    var tags = $("field-tags").value.split(",").map(function (t) { return t.trim(); }).filter(Boolean);
    var text = edited(current.text, $("field-title").value.trim(), tags, $("field-body").value);
    $("save-error").textContent = ""; $("save-status").textContent = "Saving…";
    $("save").disabled = true;
    api("PUT", "/api/articles/" + encodeURIComponent(current.id), { text: text, version: current.version })
      .then(function (res) {
        fill(res.article);
        $("save-status").textContent = "Saved to " + res.article.path + ".";
        search();
      }, function (err) {
        $("save-status").textContent = "";
        if (err && err.status === 409) {
          $("save-error").textContent = "Someone else changed this article since you opened it. " +
            "Reload it (your changes here are not kept) and make your change again.";
        } else problem("save-error", err);
      }).finally(function () { $("save").disabled = false; });
  }
  function addQuestion() {
    if (!current) return;
    var q = $("new-question").value.trim();
    $("question-error").textContent = "";
    if (!q) { $("question-error").textContent = "Write the question first."; $("new-question").focus(); return; }
    api("POST", "/api/articles/" + encodeURIComponent(current.id) + "/questions", { question: q, version: current.version })
      .then(function (res) {
        fill(res.article);
        $("new-question").value = "";
        $("save-status").textContent = "Example question added.";
        search();
      }, function (err) {
        if (err && err.status === 409) {
          $("question-error").textContent = "Someone else changed this article since you opened it. Reload it, then add the question again.";
        } else problem("question-error", err);
      });
  }

  // ---- trying a question ----
  function tryQuestion() {
    var q = $("try-q").value.trim();
    var box = $("try-result");
    $("try-error").textContent = "";
    if (!q) { $("try-error").textContent = "Write a question first."; $("try-q").focus(); return; }
    api("POST", "/api/kb/try", { question: q }).then(function (res) {
      box.textContent = "";
      var d = res.decision;
      var offered = d.article_ids.length ? ": " + d.article_ids.join(", ") : "";
      box.appendChild(el("p", { className: "decision", "data-testid": "try-decision", "data-kind": d.kind },
        (DECISIONS[d.kind] || d.kind) + offered));
      box.appendChild(el("p", { className: "muted", "data-testid": "try-reason" },
        "Why: " + d.reason + " · language " + res.language + " · index " + res.index_version));
      var t = box.appendChild(el("table", { "data-testid": "try-hits" }));
      t.appendChild(el("caption", {}, "Articles found, best first"));
      var hr = t.appendChild(el("thead")).appendChild(el("tr"));
      ["#", "Article", "Confidence", "Matched"].forEach(function (h) { hr.appendChild(el("th", { scope: "col" }, h)); });
      var tb = t.appendChild(el("tbody"));
      res.hits.forEach(function (h, i) {
        var tr = tb.appendChild(el("tr", { "data-testid": "try-hit", "data-id": h.article_id }));
        tr.appendChild(el("td", {}, String(i + 1)));
        tr.appendChild(el("th", { scope: "row" }, h.title + " (" + h.article_id + ")"));
        tr.appendChild(el("td", { "data-testid": "try-score" }, h.score.toFixed(3)));
        tr.appendChild(el("td", {}, h.matched));
      });
      if (!res.hits.length) tb.appendChild(el("tr")).appendChild(el("td", { colspan: "4", className: "muted" }, "No article found."));
    }, function (err) { problem("try-error", err); });
  }

  // What the page's other sections (editor-gaps.js) use.
  window.casedeskEditor = { open: open, search: search, fatal: fatal };

  document.addEventListener("DOMContentLoaded", function () {
    staff.bindSignIn(start, endSession);
    $("search-form").addEventListener("submit", function (e) { e.preventDefault(); search(); });
    $("article-form").addEventListener("submit", function (e) { e.preventDefault(); save(); });
    $("reload").addEventListener("click", function () {
      if (current) open(current.id, false).then(function () { $("save-status").textContent = "Reloaded."; });
    });
    $("question-form").addEventListener("submit", function (e) { e.preventDefault(); addQuestion(); });
    $("try-form").addEventListener("submit", function (e) { e.preventDefault(); tryQuestion(); });
    if (staff.load()) start(); else showLogin("");
  });
})();
