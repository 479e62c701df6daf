/* casedesk reports page. Plain JS with Chart.js; data is only ever inserted with textContent. */
(function () {
  "use strict";
  var REPORTS = ["volume", "deflection", "satisfaction", "times", "gaps", "topics"];
  var OUTCOMES = { bot: "Resolved by the bot", agent: "Resolved by an agent", abandoned: "Abandoned",
                   cancelled: "Cancelled", open: "Still open" };
  var REASONS = { low_confidence: "Bot was not confident", customer_request: "Customer asked for a person",
                  answer_not_helpful: "Answer was not helpful", no_offered_article_fits: "No offered article fitted",
                  bot_unavailable: "Bot unavailable", bot_busy: "Bot busy (customer took a person)",
                  not_helpful: "Article did not help" };
  var COLORS = ["#1f5f8b", "#e07b00", "#1f7a3d", "#a11", "#6b4fa0", "#5b6672", "#c9a227", "#14456b"];
  var BY = { by_queue: ["queue", "Queue"], by_agent: ["agent_name", "Agent"], by_article: ["title", "Article"],
             by_topic: ["tag", "Topic (tag)"] };

  var $ = function (id) { return document.getElementById(id); };
  var staff = window.casedeskStaff, el = staff.el, api = staff.api;
  var charts = {};
  var data = {};

  function dash(v) { return v === null || v === undefined ? "–" : v; }
  function pct(v) { return v === null || v === undefined ? "–" : v.toFixed(1) + " %"; }
  function num(v, digits) { return v === null || v === undefined ? "–" : v.toFixed(digits); }
  function signed(v) { return v === null || v === undefined ? "–" : (v > 0 ? "+" : "") + v.toFixed(1); }
  function seconds(v) {
    if (v === null || v === undefined) return "–";
    if (v < 120) return Math.round(v) + " s";
    if (v < 7200) return (v / 60).toFixed(1) + " min";
    return (v / 3600).toFixed(1) + " h";
  }
  function minutes(v) { return v === null || v === undefined ? null : Math.round(v / 6) / 10; }
  function short(text, n) { text = String(text); return text.length > n ? text.slice(0, n - 1) + "…" : text; }
  function reason(code) { return REASONS[code] || String(code); }
  function isoDay(d) { return d.toISOString().slice(0, 10); }

  var views = staff.views("reports-view", "supervisor",
    "Ask an administrator to give it to you (casedesk agent add NAME --role supervisor), then sign in again.");
  var show = views.show, showLogin = views.showLogin, denied = views.denied;
  function endSession(message) { staff.session = null; staff.save(); showLogin(message); }
  function handle(err) {
    if (err && err.status === 401) endSession("Your session has expired. Please sign in again.");
    else if (err && err.status === 403) denied(err.message && "The server refused: " + err.message + ".");
    else $("report-error").textContent = (err && err.message) || "Something went wrong.";
  }

  function start() {
    var agent = staff.session.agent || {};
    $("agent-name").textContent = "Signed in as " + (agent.display_name || agent.username || "agent");
    if (!staff.hasRole("supervisor")) { denied(); return; }
    show("reports-view");
    load();
  }

  // ---- filters ----
  function preset(days) {
    var to = new Date();
    var from = new Date(to.getTime() - (days - 1) * 86400000);
    $("filter-from").value = isoDay(from);
    $("filter-to").value = isoDay(to);
  }
  function query(extra) {
    var params = new URLSearchParams();
    params.set("from", $("filter-from").value);
    params.set("to", $("filter-to").value);
    if ($("filter-channel").value) params.set("channel", $("filter-channel").value);
    if ($("filter-queue").value.trim()) params.set("queue", $("filter-queue").value.trim());
    Object.keys(extra || {}).forEach(function (k) { if (extra[k]) params.set(k, extra[k]); });
    return params.toString();
  }
  function load() {
    $("report-error").textContent = "";
    if (!$("filter-from").value || !$("filter-to").value) { $("report-error").textContent = "Choose both days of the period."; return; }
    $("report-status").textContent = "Loading the reports…";
    var base = query();
    Promise.all(REPORTS.map(function (name) {
      var q = name === "topics" ? query({ tag: $("topic-tag").value.trim() }) : base;
      return api("GET", "/api/reports/" + name + "?" + q);
    })).then(function (results) {
      REPORTS.forEach(function (name, i) { data[name] = results[i]; });
      render();
      var p = data.volume.period;
      $("report-status").textContent = "Cases created from " + p.from + " to " + p.to + " (UTC)" +
        (p.channel ? ", channel " + p.channel : "") + (p.queue ? ", queue " + p.queue : "") + ".";
    }, function (err) { $("report-status").textContent = ""; handle(err); });
  }
  function loadTopics() {
    api("GET", "/api/reports/topics?" + query({ tag: $("topic-tag").value.trim() })).then(function (res) {
      data.topics = res; renderTopics();
    }, handle);
  }
  function download(path, fallback) {
    $("report-error").textContent = "";
    staff.download(path + "?" + query(), fallback).catch(handle);
  }

  // ---- tables and charts ----
  function table(testid, caption, columns, rows) {
    var t = el("table", { "data-testid": testid });
    t.appendChild(el("caption", {}, caption));
    var head = el("tr");
    columns.forEach(function (c) { head.appendChild(el("th", { scope: "col" }, c[0])); });
    t.appendChild(el("thead")).appendChild(head);
    var body = t.appendChild(el("tbody"));
    rows.forEach(function (row) {
      var tr = body.appendChild(el("tr"));
      columns.forEach(function (c, i) {
        var value = c[1](row);
        var cell = el(i === 0 ? "th" : "td", i === 0 ? { scope: "row" } : {});
        if (value instanceof Node) cell.appendChild(value); else cell.textContent = String(dash(value));
        tr.appendChild(cell);
      });
    });
    if (!rows.length) {
      var empty = body.appendChild(el("tr"));
      empty.appendChild(el("td", { colspan: String(columns.length), className: "muted" }, "None in this period."));
    }
    return t;
  }
  function put(testid, nodes) {
    var box = document.querySelector('[data-testid="' + testid + '"]');
    box.textContent = "";
    [].concat(nodes).forEach(function (n) { box.appendChild(n); });
  }
  function chart(id, config, label) {
    if (charts[id]) charts[id].destroy();
    var canvas = $(id);
    canvas.setAttribute("aria-label", label + " (the numbers are in the table below)");
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, config.options || {});
    charts[id] = new window.Chart(canvas, config);
  }
  function bars(labels, datasets, options) {
    return { type: "bar", data: { labels: labels, datasets: datasets.map(function (d, i) {
      return Object.assign({ backgroundColor: COLORS[i % COLORS.length] }, d);
    }) }, options: options || {} };
  }
  function horizontal(extra) {
    var options = Object.assign({ indexAxis: "y", plugins: { legend: { display: false } } }, extra || {});
    options.scales = Object.assign({}, options.scales);
    options.scales.y = Object.assign({ ticks: { autoSkip: false } }, options.scales.y);  // every bar named
    return options;
  }
  function list(items) {
    var ul = el("ul", { className: "plain" });
    items.forEach(function (text) { ul.appendChild(el("li", {}, text)); });
    return ul;
  }

  function render() {
    renderKpis(); renderVolume(); renderDeflection(); renderSatisfaction(); renderTimes(); renderGaps(); renderTopics();
    var queues = $("queue-names"); queues.textContent = "";
    (data.times.queues || []).forEach(function (q) { queues.appendChild(el("option", { value: q.queue })); });
  }
  function kpi(testid, text) { document.querySelector('[data-testid="' + testid + '"]').textContent = text; }
  function renderKpis() {
    kpi("kpi-cases", String(data.deflection.cases));
    kpi("kpi-bot-share", pct(data.deflection.bot_share_percent));
    kpi("kpi-csat", pct(data.satisfaction.overall.csat_percent));
    kpi("kpi-nps", signed(data.satisfaction.overall.nps));
    kpi("kpi-first-response", seconds(data.times.overall.first_response.p50));
  }
  function renderVolume() {
    var v = data.volume;
    chart("chart-volume", bars(v.days.map(function (d) { return d.date; }), v.channels.map(function (ch) {
      return { label: ch, data: v.days.map(function (d) { return d.channels[ch]; }) };
    }), { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } }),
    "Cases per day, stacked by channel");
    var columns = [["Day", function (d) { return d.date; }]].concat(v.channels.map(function (ch) {
      return [ch, function (d) { return d.channels[ch]; }];
    })).concat([["Total", function (d) { return d.total; }]]);
    put("table-volume", table("volume-table", "Cases per day and channel (" + v.total + " in all)", columns, v.days));
  }
  function renderDeflection() {
    var d = data.deflection;
    var keys = Object.keys(OUTCOMES);
    chart("chart-outcomes", { type: "doughnut", data: { labels: keys.map(function (k) { return OUTCOMES[k]; }),
      datasets: [{ data: keys.map(function (k) { return d.outcomes[k]; }), backgroundColor: COLORS.slice(0, keys.length) }] },
      options: { plugins: { legend: { position: "right" } } } }, "How the cases ended");
    put("table-outcomes", table("outcomes-table", "Bot's share of the cases that ended: " + pct(d.bot_share_percent),
      [["Outcome", function (k) { return OUTCOMES[k]; }], ["Cases", function (k) { return d.outcomes[k]; }]], keys));
    chart("chart-reasons", bars(d.escalation_reasons.map(function (r) { return reason(r.reason); }),
      [{ label: "Cases", data: d.escalation_reasons.map(function (r) { return r.count; }) }],
      horizontal({ scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } })), "Why the bot handed over");
    put("table-reasons", table("reasons-table", d.escalated + " cases handed over",
      [["Reason", function (r) { return reason(r.reason); }], ["Cases", function (r) { return r.count; }]],
      d.escalation_reasons));
  }
  function satisfactionColumns(first) {
    return [first,
      ["Answers", function (r) { return r.answers; }], ["Mean rating", function (r) { return num(r.mean_rating, 2); }],
      ["CSAT", function (r) { return pct(r.csat_percent); }], ["NPS", function (r) { return signed(r.nps); }],
      ["Mean effort", function (r) { return num(r.mean_effort, 2); }]];
  }
  function byLabel(key, row) {
    var field = BY[key][0];
    if (key === "by_queue") return row.queue || "no queue (bot)";
    if (key === "by_agent") return row.agent_name || "no agent (bot)";
    return row[field] || row.article_id || "–";
  }
  function renderSatisfaction() {
    var s = data.satisfaction, key = $("satisfaction-by").value;
    var rows = s[key].slice(0, 12);
    chart("chart-satisfaction", bars(rows.map(function (r) { return short(byLabel(key, r), 40); }),
      [{ label: "Mean rating", data: rows.map(function (r) { return r.mean_rating; }) }],
      horizontal({ scales: { x: { min: 0, max: 5 } } })), "Mean rating by " + BY[key][1].toLowerCase());
    var tables = [table("satisfaction-overall", "All answers", satisfactionColumns(["", function () { return "All"; }]), [s.overall])];
    Object.keys(BY).forEach(function (k) {
      tables.push(table("satisfaction-" + k.replace("by_", ""), "By " + BY[k][1].toLowerCase(),
        satisfactionColumns([BY[k][1], function (r) { return byLabel(k, r); }]), s[k]));
    });
    put("table-satisfaction", tables);
  }
  function renderTimes() {
    var t = data.times, queues = t.queues;
    var labels = queues.map(function (q) { return q.queue; });
    [["chart-first-response", "first_response", "First response (minutes)"],
     ["chart-resolution", "resolution", "Resolution by an agent (minutes)"]].forEach(function (c) {
      chart(c[0], bars(labels, [
        { label: "median", data: queues.map(function (q) { return minutes(q[c[1]].p50); }) },
        { label: "90th percentile", data: queues.map(function (q) { return minutes(q[c[1]].p90); }) }
      ], { plugins: { title: { display: true, text: c[2] } }, scales: { y: { beginAtZero: true } } }), c[2] + " by queue");
    });
    var rows = queues.concat([Object.assign({ queue: "All queues" }, t.overall)]);
    put("table-times", table("times-table", "Times from entering the queue, and SLA breaches", [
      ["Queue", function (q) { return q.queue; }], ["Cases", function (q) { return q.cases; }],
      ["First response median", function (q) { return seconds(q.first_response.p50); }],
      ["First response p90", function (q) { return seconds(q.first_response.p90); }],
      ["First response mean", function (q) { return seconds(q.first_response.mean); }],
      ["First response breaches", function (q) { return q.first_response_breaches + " (" + pct(q.first_response_breach_percent) + ")"; }],
      ["Resolution median", function (q) { return seconds(q.resolution.p50); }],
      ["Resolution p90", function (q) { return seconds(q.resolution.p90); }],
      ["Resolution mean", function (q) { return seconds(q.resolution.mean); }],
      ["Resolution breaches", function (q) { return q.resolution_breaches + " (" + pct(q.resolution_breach_percent) + ")"; }]
    ], rows));
  }
  function renderGaps() {
    var g = data.gaps, groups = g.groups;
    $("gaps-summary").textContent = g.questions + " unanswered questions in " + g.groups_total +
      " groups (questions at least " + g.similarity.toFixed(2) + " similar to every other of their group)" +
      (g.considered < g.questions ? "; the newest " + g.considered + " were grouped." : ".");
    var top = groups.slice(0, 10);
    chart("chart-gaps", bars(top.map(function (x) { return short(x.representative, 50); }),
      [{ label: "Times asked", data: top.map(function (x) { return x.count; }) }],
      horizontal({ scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } })), "The most asked unanswered questions");
    put("table-gaps", table("gaps-table", "Unanswered questions, grouped by meaning", [
      ["Question", function (x) { return x.representative; }],
      ["Asked", function (x) { return x.count; }], ["Cases", function (x) { return x.cases; }],
      ["Also asked as", function (x) { return list(x.examples); }],
      ["Why", function (x) { return list(Object.keys(x.reasons).map(function (r) { return reason(r) + ": " + x.reasons[r]; })); }],
      ["Articles the bot tried", function (x) { return list(x.articles.map(function (a) { return (a.title || a.article_id) + " (" + a.count + ")"; })); }],
      ["Last asked", function (x) { return x.last_asked_at.slice(0, 10); }]
    ], groups));
  }
  function renderTopics() {
    var t = data.topics;
    var tags = t.tags.slice(0, 10), articles = t.articles.slice(0, 10);
    function stacked(title) {
      return horizontal({ plugins: { legend: { display: true }, title: { display: true, text: title } },
        scales: { x: { stacked: true, beginAtZero: true, ticks: { precision: 0 } }, y: { stacked: true } } });
    }
    chart("chart-tags", bars(tags.map(function (x) { return x.tag; }), [
      { label: "handed over", data: tags.map(function (x) { return x.escalated; }) },
      { label: "not handed over", data: tags.map(function (x) { return x.cases - x.escalated; }) }
    ], stacked("Cases per topic (tag)")), "Cases per topic (tag)");
    chart("chart-articles", bars(articles.map(function (x) { return short(x.title || x.article_id, 40); }), [
      { label: "handed over", data: articles.map(function (x) { return x.escalated; }) },
      { label: "not handed over", data: articles.map(function (x) { return x.cases - x.escalated; }) }
    ], stacked("Cases per article (product)")), "Cases per article (product)");
    var scope = t.tag ? " about the tag " + t.tag : "";
    var counts = [["Cases", function (x) { return x.cases; }], ["Handed over", function (x) { return x.escalated; }],
      ["Handed over %", function (x) { return pct(x.escalated_percent); }], ["Answers", function (x) { return x.answers; }],
      ["Mean rating", function (x) { return num(x.mean_rating, 2); }]];
    put("table-topics", [
      table("topics-tags", "Topics (tags) of the " + t.with_articles + " cases with an article" + scope,
        [["Tag", function (x) { return x.tag; }]].concat(counts), t.tags),
      table("topics-articles", "Articles (products)" + scope,
        [["Article", function (x) { return x.title || x.article_id; }]].concat(counts).concat([
          ["Did not help", function (x) { return x.not_helped; }], ["Tags", function (x) { return x.tags.join(", "); }]]),
        t.articles)
    ]);
  }

  // ---- start ----
  document.addEventListener("DOMContentLoaded", function () {
    staff.bindSignIn(start, endSession);
    $("filters").addEventListener("submit", function (e) { e.preventDefault(); load(); });
    Array.prototype.forEach.call(document.querySelectorAll("[data-days]"), function (b) {
      b.addEventListener("click", function () { preset(Number(b.getAttribute("data-days"))); load(); });
    });
    $("topic-form").addEventListener("submit", function (e) { e.preventDefault(); loadTopics(); });
    $("satisfaction-by").addEventListener("change", function () { if (data.satisfaction) renderSatisfaction(); });
    $("export-cases").addEventListener("click", function () { download("/api/reports/cases.csv", "cases.csv"); });
    $("export-surveys").addEventListener("click", function () { download("/api/reports/surveys.csv", "surveys.csv"); });
    if (window.Chart) { window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily; }
    preset(30);
    if (staff.load()) start(); else showLogin("");
  });
})();
