/* casedesk knowledge base editor: the "Content gaps" section and drafts (docs/editing.md). The unanswered
   questions (GET /api/reports/gaps), each wording with the case it was asked in: add it as an example
   question to an article (POST /api/articles/{id}/questions), or draft an article from the reply of the agent
   who resolved the case (POST /api/articles/drafts), opened in the editor. An open draft gets a notice with
   "Mark ready", which saves it without its draft line. Customer text only ever goes in with textContent. */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var staff = window.casedeskStaff, el = staff.el, api = staff.api;
  var editor = function () { return window.casedeskEditor; };
  var DAYS = 30;
  var REASONS = { low_confidence: "not confident", answer_not_helpful: "answer did not help",
                  no_offered_article_fits: "no offered article fitted", not_helpful: "article did not help" };
  var openArticle = null;  // the article open in the editor, as the server sent it

  function day(d) { return d.toISOString().slice(0, 10); }
  function problem(target, err) {
    if (!editor().fatal(err)) target.textContent = (err && err.message) || "Something went wrong.";
  }

  function start() {
    if (!$("gaps-to").value) {
      var today = new Date();
      $("gaps-to").value = day(today);
      $("gaps-from").value = day(new Date(today.getTime() - (DAYS - 1) * 86400000));
    }
    loadArticleIds();
    load();
  }

  // The article ids an example question can go to, offered as the inputs' choices.
  function loadArticleIds() {
    api("GET", "/api/articles").then(function (res) {
      var list = $("gaps-article-ids");
      list.textContent = "";
      res.articles.forEach(function (a) {
        var option = list.appendChild(el("option"));
        option.value = a.id;
        option.label = a.title;
      });
    }, function () { /* the choices are a convenience: an id can still be typed */ });
  }

  function load() {
    var query = "from=" + encodeURIComponent($("gaps-from").value) + "&to=" + encodeURIComponent($("gaps-to").value);
    $("gaps-error").textContent = "";
    $("gaps-status").textContent = "Loading…";
    api("GET", "/api/reports/gaps?" + query).then(render, function (err) {
      $("gaps-status").textContent = "";
      problem($("gaps-error"), err);
    });
  }

  function render(report) {
    var list = $("gaps-list");
    list.textContent = "";
    $("gaps-status").textContent = report.questions + (report.questions === 1 ? " unanswered question" :
      " unanswered questions") + " in " + report.groups_total + (report.groups_total === 1 ? " group" : " groups") +
      " from " + report.period.from + " to " + report.period.to +
      (report.groups.length < report.groups_total ? " (the " + report.groups.length + " largest shown)" : "") + ".";
    report.groups.forEach(function (group, i) { list.appendChild(groupItem(group, i)); });
  }

  function groupItem(group, i) {
    var li = el("li", { className: "gap-group", "data-testid": "gap-group" });
    var heading = li.appendChild(el("h3", { id: "gap-" + i }));
    heading.appendChild(el("span", { className: "count", "data-testid": "gap-count" }, group.count + "×"));
    heading.appendChild(el("span", { "data-testid": "gap-representative" }, group.representative));
    li.setAttribute("aria-labelledby", "gap-" + i);
    var reasons = Object.keys(group.reasons).map(function (r) { return (REASONS[r] || r) + " " + group.reasons[r]; });
    li.appendChild(el("p", { className: "muted" }, group.cases + (group.cases === 1 ? " case" : " cases") +
      " · " + reasons.join(", ")));
    li.appendChild(el("p", { className: "muted", "data-testid": "gap-articles" }, group.articles.length ?
      "Articles tried: " + group.articles.map(function (a) {
        return (a.title || a.article_id) + " (" + a.article_id + ") ×" + a.count;
      }).join(", ") : "No article was tried."));
    var ul = li.appendChild(el("ul", { className: "gap-examples", "aria-label": "How customers asked it" }));
    var tried = group.articles.length ? group.articles[0].article_id : "";
    group.asked.forEach(function (asked, j) { ul.appendChild(exampleItem(asked, tried, i + "-" + j)); });
    return li;
  }

  function exampleItem(asked, tried, key) {
    var li = el("li", { "data-testid": "gap-example", "data-case": asked.case_id });
    li.appendChild(el("q", { "data-testid": "gap-question" }, asked.question));
    li.appendChild(el("span", { className: "muted" }, " · case " + asked.case_id + " · " +
      (REASONS[asked.reason] || asked.reason)));
    var status = el("p", { className: "muted", role: "status", "data-testid": "gap-status" });
    var error = el("p", { className: "error", role: "alert", "data-testid": "gap-error" });

    var form = li.appendChild(el("form", { className: "inline", "data-testid": "gap-add-form", novalidate: true }));
    form.appendChild(el("label", { for: "gap-target-" + key }, "Add as question to…"));
    var target = form.appendChild(el("input", { id: "gap-target-" + key, list: "gaps-article-ids", maxlength: "64",
                                                placeholder: "article id", "data-testid": "gap-target" }));
    target.value = tried;
    form.appendChild(el("button", { type: "submit", "data-testid": "gap-add" }, "Add"));
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      addQuestion(asked.question, target.value.trim(), status, error);
    });
    if (asked.resolved_by_agent) {
      var draft = li.appendChild(el("button", { type: "button", "data-testid": "gap-draft" },
        "Draft article from the agent's reply"));
      draft.addEventListener("click", function () { makeDraft(asked.case_id, draft, status, error); });
    } else {
      li.appendChild(el("p", { className: "muted" }, "No agent resolved this case: there is no reply to draft from."));
    }
    li.appendChild(status);
    li.appendChild(error);
    return li;
  }

  function addQuestion(question, articleId, status, error) {
    status.textContent = ""; error.textContent = "";
    if (!articleId) { error.textContent = "Choose the article first."; return; }
    api("POST", "/api/articles/" + encodeURIComponent(articleId) + "/questions", { question: question })
      .then(function (res) {
        status.textContent = "Added as an example question to " + res.article.id + ".";
        editor().open(res.article.id, false);
        editor().search();
      }, function (err) { problem(error, err); });
  }

  function makeDraft(caseId, button, status, error) {
    status.textContent = ""; error.textContent = "";
    button.disabled = true;
    api("POST", "/api/articles/drafts", { case_id: caseId }).then(function (res) {
      status.textContent = "Draft " + res.article.id + " written to " + res.article.path + ": edit it, then mark it ready.";
      editor().search();
      loadArticleIds();
      return editor().open(res.article.id, true);
    }, function (err) { problem(error, err); }).finally(function () { button.disabled = false; });
  }

  // ---- the notice on an open draft ----
  function notice() {
    var box = $("draft-notice");
    if (box) return box;
    box = el("div", { id: "draft-notice", className: "draft-notice", "data-testid": "draft-notice", hidden: true });
    box.appendChild(el("p", {}, "This is a draft: the bot does not answer from it. Save your edits first, then " +
      "mark it ready (its file without the draft line); the bot answers from it once the index is rebuilt."));
    var button = box.appendChild(el("button", { type: "button", "data-testid": "mark-ready" }, "Mark ready"));
    box.appendChild(el("p", { className: "error", role: "alert", "data-testid": "draft-error" }));
    button.addEventListener("click", markReady);
    $("article-meta").insertAdjacentElement("afterend", box);
    return box;
  }
  // The file without its front matter's draft line (and the comment the server writes above it).
  function withoutDraft(text) {
    var lines = text.replace(/\r\n/g, "\n").split("\n");
    var close = lines.indexOf("---", 1);
    return lines.filter(function (line, i) {
      return !(i > 0 && i < close && (/^draft\s*:/.test(line) || /^# A draft:/.test(line)));
    }).join("\n");
  }
  function markReady() {
    if (!openArticle) return;
    var box = notice(), error = box.querySelector('[data-testid="draft-error"]');
    error.textContent = "";
    api("PUT", "/api/articles/" + encodeURIComponent(openArticle.id),
        { text: withoutDraft(openArticle.text), version: openArticle.version }).then(function (res) {
      editor().open(res.article.id, false).then(function () {
        $("save-status").textContent = "Marked ready: the bot answers from it once the index is rebuilt.";
      });
      editor().search();
    }, function (err) {
      if (err && err.status === 409) error.textContent = "Someone else changed this article since you opened it. Reload it first.";
      else problem(error, err);
    });
  }

  document.addEventListener("casedesk:editor-ready", start);
  document.addEventListener("casedesk:article", function (e) {
    openArticle = e.detail;
    notice().hidden = !openArticle.draft;
  });
  document.addEventListener("DOMContentLoaded", function () {
    $("gaps-form").addEventListener("submit", function (e) { e.preventDefault(); load(); });
  });
})();
