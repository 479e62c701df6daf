/* casedesk knowledge base editor: the "Publish" section (docs/editing.md). A publish (POST /api/kb/publish) is
   followed by polling GET /api/kb/publish until it ends: its steps with their state and detail, the embedding
   progress, then the outcome and the quality gate's report (metrics, the questions whose answer changed,
   regressions first). The history (GET /api/kb/publishes) and a rollback (POST /api/kb/rollback, confirmed in
   the page). A running publish, started from another tab, is shown when the page loads. Text from the server
   (customers' questions, article ids, errors) only ever goes in with textContent. */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var staff = window.casedeskStaff, el = staff.el, api = staff.api;
  var editor = function () { return window.casedeskEditor; };
  var POLL_MS = 500;
  var STEPS = { check: "Check the articles", index: "Build the index", rasa: "Train Rasa", gate: "Quality gate",
                publish: "Make it live" };
  var STATES = { waiting: "waiting", running: "running…", done: "done", failed: "failed" };
  var VERDICTS = { regressed: "regressed", changed: "changed", improved: "improved" };
  var VERDICT_ORDER = { regressed: 0, changed: 1, improved: 2 };
  var METRICS = { examples: "Example questions answered with their article",
                  development: "Development set answered right",
                  handovers: "Questions to hand over handed over" };
  var polling = null, shown = "", running = false, history = [];
  var openId = null;  // the article open in the editor, reloaded after a rollback (its file may be restored)

  function problem(target, err) {
    if (!editor().fatal(err)) target.textContent = (err && err.message) || "Something went wrong.";
  }
  function percent(share) { return typeof share === "number" ? (share * 100).toFixed(1) + "%" : "–"; }
  function when(iso) { return String(iso || "").replace("T", " ").replace(/:\d\dZ$/, " UTC"); }
  function plural(n, one, many) { return n + " " + (n === 1 ? one : many); }

  function start() {
    $("publish-error").textContent = "";
    api("GET", "/api/kb/publish").then(function (res) { if (res.job) follow(res.job); },
                                       function (err) { problem($("publish-error"), err); });
    loadHistory();
  }

  // ---- a publish ----
  function publish() {
    $("publish-error").textContent = "";
    setRunning(true);
    api("POST", "/api/kb/publish", {}).then(function (res) { follow(res.job); }, function (err) {
      if (err && err.status === 409) {
        $("publish-error").textContent = "A publish is already running (" + err.message + "): it is shown below.";
        poll();
      } else {
        setRunning(false);
        problem($("publish-error"), err);
      }
    });
  }
  function poll() {
    polling = null;
    api("GET", "/api/kb/publish").then(function (res) {
      if (res.job) follow(res.job); else setRunning(false);
    }, function (err) {
      if (!editor().fatal(err)) {  // a network hiccup: say so and keep following
        $("publish-error").textContent = "Could not follow the publish: " + ((err && err.message) || "no answer") + ".";
        polling = setTimeout(poll, POLL_MS * 4);
      }
    });
  }
  function follow(job) {
    var text = JSON.stringify(job);
    if (text !== shown) { shown = text; render(job); }
    if (job.state === "running") {
      setRunning(true);
      if (!polling) polling = setTimeout(poll, POLL_MS);
    } else {
      var wasRunning = running;
      setRunning(false);
      if (wasRunning) loadHistory();
    }
  }
  function setRunning(on) {
    running = on;
    $("publish-start").disabled = on;
    $("publish-start").textContent = on ? "Publishing…" : "Publish";
    $("publish-start").setAttribute("aria-busy", on ? "true" : "false");
    updateRollback();
  }

  function render(job) {
    var box = $("publish-job");
    box.textContent = "";
    box.setAttribute("data-state", job.state);
    box.appendChild(outcome(job));
    box.appendChild(el("p", { className: "muted", "data-testid": "publish-meta" }, "Started by " + job.by + " at " +
      when(job.started_at) + (job.state === "running" ? "" : " · took " + job.seconds + " s")));
    var steps = box.appendChild(el("ol", { className: "publish-steps", "data-testid": "publish-steps",
                                           "aria-label": "Steps" }));
    job.steps.forEach(function (step) {
      var li = steps.appendChild(el("li", { "data-testid": "publish-step", "data-step": step.name,
                                            "data-state": step.state, className: "step-" + step.state }));
      li.appendChild(el("span", { className: "step-name" }, STEPS[step.name] || step.name));
      li.appendChild(el("span", { className: "step-state", "data-testid": "step-state" },
        STATES[step.state] || step.state));
      if (step.detail) li.appendChild(el("span", { className: "step-detail", "data-testid": "step-detail" }, step.detail));
      if (step.name === "index" && job.progress && job.progress.total) li.appendChild(progress(job.progress));
    });
    if (job.report) box.appendChild(report(job.report));
  }
  function outcome(job) {
    var p = el("div", { className: "publish-outcome outcome-" + job.state, "data-testid": "publish-outcome",
                        "data-state": job.state, role: job.state === "running" ? "status" : "alert" });
    if (job.state === "running") p.appendChild(el("strong", {}, "Publishing…"));
    else if (job.state === "published") {
      p.appendChild(el("strong", {}, "Published"));
      p.appendChild(document.createTextNode(": the live version is "));
      p.appendChild(el("code", { "data-testid": "publish-version" }, job.version));
    } else if (job.state === "refused") {
      p.appendChild(el("strong", {}, "Refused by the quality gate"));
      p.appendChild(document.createTextNode(": nothing was published, the live version stays as it was."));
      var ul = p.appendChild(el("ul", { "data-testid": "refused-because" }));
      ((job.report && job.report.refused_because) || []).forEach(function (why) { ul.appendChild(el("li", {}, why)); });
    } else {
      p.appendChild(el("strong", {}, "Failed"));
      p.appendChild(document.createTextNode(": nothing was published. "));
      p.appendChild(el("span", { className: "publish-failure", "data-testid": "publish-failure" }, job.error));
    }
    return p;
  }
  function progress(counts) {
    var wrap = el("span", { className: "step-progress" });
    var label = counts.done + " / " + counts.total + " texts embedded";
    wrap.appendChild(el("progress", { max: String(counts.total), value: String(counts.done), "aria-label": label,
                                      "data-testid": "publish-progress" }));
    wrap.appendChild(el("span", { className: "muted", "data-testid": "publish-progress-text" }, label));
    return wrap;
  }

  // ---- the quality gate's report ----
  function report(gate) {
    var box = el("div", { className: "gate-report", "data-testid": "gate-report" });
    box.appendChild(el("h3", {}, "Quality gate: " + (gate.passed ? "passed" : "refused") +
      " (a metric may drop by " + percent(gate.tolerance) + " at most)"));
    var table = box.appendChild(el("table", { "data-testid": "gate-metrics" }));
    table.appendChild(el("caption", {}, "Share of the regression questions answered right"));
    var head = table.appendChild(el("thead")).appendChild(el("tr"));
    ["Metric", "Questions", "Published", "Candidate", "Change"].forEach(function (h) {
      head.appendChild(el("th", { scope: "col" }, h));
    });
    var body = table.appendChild(el("tbody"));
    Object.keys(gate.candidate).forEach(function (metric) {
      var before = gate.published[metric], after = gate.candidate[metric];
      var diff = typeof before === "number" ? after - before : null;
      var tr = body.appendChild(el("tr", { "data-testid": "gate-metric", "data-metric": metric,
                                           className: diff !== null && diff < -gate.tolerance ? "worse" : "" }));
      tr.appendChild(el("th", { scope: "row" }, (METRICS[metric] || metric) + " (" + metric + ")"));
      tr.appendChild(el("td", {}, String(gate.questions[metric] || 0)));
      tr.appendChild(el("td", { "data-testid": "metric-published" }, percent(before)));
      tr.appendChild(el("td", { "data-testid": "metric-candidate" }, percent(after)));
      tr.appendChild(el("td", {}, diff === null ? "first publish" :
        (diff > 0 ? "+" : diff < 0 ? "−" : "±") + (Math.abs(diff) * 100).toFixed(1) + " points"));
    });

    var changes = gate.changes.slice().sort(function (a, b) {
      return VERDICT_ORDER[a.verdict] - VERDICT_ORDER[b.verdict];
    });
    var regressed = changes.filter(function (c) { return c.verdict === "regressed"; }).length;
    box.appendChild(el("p", { "data-testid": "gate-summary" }, changes.length ?
      plural(changes.length, "question changed its answer", "questions changed their answer") + ", " +
      plural(regressed, "regression", "regressions") + "." : "No question changed its answer."));
    if (!changes.length) return box;
    var t = box.appendChild(el("table", { className: "gate-changes", "data-testid": "gate-changes" }));
    t.appendChild(el("caption", {}, "Questions whose answer changed, regressions first"));
    var hr = t.appendChild(el("thead")).appendChild(el("tr"));
    ["Verdict", "Question", "Expected", "Before → after"].forEach(function (h) {
      hr.appendChild(el("th", { scope: "col" }, h));
    });
    var tb = t.appendChild(el("tbody"));
    changes.forEach(function (c) {
      var tr = tb.appendChild(el("tr", { "data-testid": "gate-change", "data-verdict": c.verdict,
                                         className: "verdict-" + c.verdict }));
      tr.appendChild(el("td", {})).appendChild(el("span", { className: "verdict", "data-testid": "change-verdict" },
        VERDICTS[c.verdict] || c.verdict));
      var q = tr.appendChild(el("td", {}));
      q.appendChild(el("span", { "data-testid": "change-question" }, c.question));
      q.appendChild(el("span", { className: "muted" }, c.source === "development" ? " · development set" :
        " · example question"));
      tr.appendChild(el("td", { "data-testid": "change-expected" }, c.expected));
      tr.appendChild(el("td", { "data-testid": "change-outcomes" }, c.before + " → " + c.after));
    });
    return box;
  }

  // ---- history and rollback ----
  function loadHistory() {
    api("GET", "/api/kb/publishes").then(function (res) {
      history = res.publishes;
      renderHistory();
    }, function (err) { problem($("history-status"), err); });
  }
  // The publish a rollback would make live: as the server picks it, the kept publish before the live one.
  function rollbackTarget() {
    var publishes = history.filter(function (e) { return e.action === "publish"; });
    var live = history.filter(function (e) { return e.live; })[0];
    if (!live) return null;
    var at = -1;
    publishes.forEach(function (e, i) { if (at < 0 && e.version === live.version) at = i; });
    if (at < 0) return null;
    return publishes.slice(at + 1).filter(function (e) { return e.kept; })[0] || null;
  }
  function updateRollback() {
    var target = rollbackTarget();
    $("rollback").disabled = running || !target;
    $("rollback").title = target ? "" : running ? "A publish is running." : "There is no earlier publish to go back to.";
    if (!target || running) $("rollback-confirm").hidden = true;
  }
  function renderHistory() {
    var list = $("history");
    list.textContent = "";
    $("history-status").textContent = history.length ? plural(history.length, "entry", "entries") +
      ", newest first." : "Nothing was published yet.";
    history.forEach(function (entry) { list.appendChild(historyItem(entry)); });
    updateRollback();
  }
  function historyItem(entry) {
    var li = el("li", { className: "history-entry" + (entry.live ? " live" : ""), "data-testid": "history-entry",
                        "data-action": entry.action, "data-live": entry.live ? "true" : "false",
                        "data-version": entry.version });
    var head = li.appendChild(el("p", { className: "history-head" }));
    head.appendChild(el("strong", { "data-testid": "history-action" },
      entry.action === "rollback" ? "Rollback" : "Publish"));
    head.appendChild(document.createTextNode(" · " + when(entry.at) + " · by "));
    head.appendChild(el("span", { "data-testid": "history-by" }, entry.by));
    head.appendChild(document.createTextNode(" · version "));
    head.appendChild(el("code", { "data-testid": "history-version" }, entry.version));
    if (entry.live) head.appendChild(el("span", { className: "badge live-badge", "data-testid": "history-live" }, "live"));
    else if (!entry.kept) head.appendChild(el("span", { className: "muted" }, " (no longer kept)"));
    var metrics = Object.keys(entry.metrics || {}).map(function (m) {
      var n = entry.questions && entry.questions[m];
      return m + " " + percent(entry.metrics[m]) + (n ? " of " + n : "");
    });
    if (metrics.length) li.appendChild(el("p", { className: "muted", "data-testid": "history-metrics" },
      "Metrics: " + metrics.join(" · ")));
    if (entry.action === "rollback") {
      li.appendChild(el("p", { "data-testid": "history-changes" }, "From " + entry.from_version +
        " · files restored: " + names(entry.files_restored) + " · files kept: " + names(entry.files_kept)));
    } else if (entry.changes) {
      li.appendChild(el("p", { "data-testid": "history-changes" }, ["added", "changed", "removed"].map(function (k) {
        return k + ": " + names(entry.changes[k]);
      }).join(" · ") + (entry.rasa_trained ? " · Rasa retrained" : "")));
    }
    return li;
  }
  function names(list) { return list && list.length ? list.join(", ") : "none"; }

  function askRollback() {
    var target = rollbackTarget();
    $("rollback-error").textContent = "";
    if (!target) return;
    $("rollback-question").textContent = "Make the publish of " + when(target.at) + " by " + target.by +
      " (version " + target.version + ") live again? Article files still as published now are put back as they " +
      "were; files edited since are kept, to publish later.";
    $("rollback-confirm").hidden = false;
    $("rollback-yes").focus();
  }
  function rollback() {
    $("rollback-confirm").hidden = true;
    $("rollback-error").textContent = "";
    $("rollback").disabled = true;
    var box = $("rollback-result");
    box.textContent = "";
    api("POST", "/api/kb/rollback", {}).then(function (res) {
      var r = res.rollback;
      box.appendChild(el("p", { "data-testid": "rollback-done" }, "Rolled back: version " + r.version +
        " is live again (it was " + r.from_version + ")."));
      box.appendChild(el("p", { "data-testid": "rollback-restored" }, "Files restored: " + names(r.files_restored) + "."));
      box.appendChild(el("p", { "data-testid": "rollback-kept" }, "Files kept (edited since, to publish later): " +
        names(r.files_kept) + "."));
      editor().search();
      if (openId) editor().open(openId, false);
    }, function (err) { problem($("rollback-error"), err); }).finally(loadHistory);
  }

  document.addEventListener("casedesk:editor-ready", start);
  document.addEventListener("casedesk:article", function (e) { openId = e.detail.id; });
  document.addEventListener("DOMContentLoaded", function () {
    $("publish-start").addEventListener("click", publish);
    $("rollback").addEventListener("click", askRollback);
    $("rollback-yes").addEventListener("click", rollback);
    $("rollback-no").addEventListener("click", function () { $("rollback-confirm").hidden = true; $("rollback").focus(); });
    $("history-refresh").addEventListener("click", loadHistory);
    updateRollback();
  });
})();
