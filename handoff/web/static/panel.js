/* casedesk agent panel. Plain JS, no build step. Data is only ever inserted with textContent. */
(function () {
  "use strict";
  var REASONS = {
    low_confidence: "Bot was not confident",
    customer_request: "Customer asked for a person",
    answer_not_helpful: "Answer was not helpful",
    bot_unavailable: "Bot unavailable",
    bot_busy: "Bot busy (customer took a person)"
  };
  var STATUS = { bot: "With bot", queued: "Waiting", with_agent: "With agent", resolved: "Resolved", abandoned: "Abandoned", cancelled: "Cancelled" };
  var SLA = { warning: "SLA close to breach", breached: "SLA breached", met: "SLA met" };
  var PRIORITY_RANK = { high: 0, normal: 1 };

  var $ = function (id) { return document.getElementById(id); };
  var staff = window.casedeskStaff, el = staff.el, api = staff.api;
  var socket = null;
  var cases = {};          // id -> CaseSummary (latest)
  var waiting = [];        // ids of queued cases
  var mine = [];           // ids of my cases
  var transcripts = {};    // id -> {messages: {seq: Message}, loaded: bool, unread: int}
  var openId = null;
  var everConnected = false;
  var details = {};        // id -> {events, earlier_cases} from GET /api/cases/{id}
  var options = { queues: [], all_queues: [], colleagues: [], resolution_categories: [] };

  function safeUrl(url) {
    try {
      var u = new URL(String(url), window.location.href);
      return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
    } catch (e) { return null; }
  }
  function fmtTime(iso) {
    var d = new Date(iso);
    return isNaN(d) ? "" : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }
  function since(iso) {
    var d = new Date(iso);
    if (isNaN(d)) return "";
    var min = Math.max(0, Math.floor((Date.now() - d) / 60000));
    return "since " + fmtTime(iso) + " (" + (min < 1 ? "just now" : min + " min") + ")";
  }
  function reason(code) { return code ? REASONS[code] || String(code) : "-"; }
  function setError(msg) { $("panel-error").textContent = msg || ""; }

  function showLogin(message) {
    $("app-view").hidden = true;
    $("session").hidden = true;
    $("login-view").hidden = false;
    $("login-error").textContent = message || "";
    $("login-username").focus();
  }
  function showApp() {
    $("login-view").hidden = true;
    $("app-view").hidden = false;
    $("session").hidden = false;
    $("agent-name").textContent = "Signed in as " + (staff.session.agent && (staff.session.agent.display_name || staff.session.agent.username) || "agent");
    $("reports-link").hidden = $("audit-link").hidden = $("staff-link").hidden = !staff.hasRole("supervisor");
    $("editor-link").hidden = !staff.hasRole("editor");
  }
  function resetState() {
    if (socket) { socket.off(); socket.disconnect(); socket = null; $("connection").textContent = ""; }
    cases = {}; waiting = []; mine = []; transcripts = {}; details = {}; openId = null; everConnected = false;
    renderLists(); renderConversation();
  }
  function endSession(message) {
    staff.session = null; staff.save(); resetState(); showLogin(message);
  }

  // ---- socket ----
  function call(event, payload) {
    return new Promise(function (resolve, reject) {
      socket.timeout(15000).emit(event, payload, function (err, res) {
        if (err) reject({ code: "timeout", message: "The server did not answer. Please try again." });
        else if (res && res.ok) resolve(res);
        else reject((res && res.error) || { code: "internal", message: "Unexpected answer from the server." });
      });
    });
  }
  function handleError(err) {
    if (err && err.code === "unauthorized") endSession("Your session has expired. Please sign in again.");
    else setError((err && err.message) || "Something went wrong.");
  }

  function start() {
    showApp();
    $("connection").textContent = "Connecting…";
    // resume: the socket gets its cases' messages from resume_cases on, which sends what it missed (exactly once)
    socket = window.io("/agent", { auth: { token: staff.session.token, resume: true }, transports: ["websocket"] });
    socket.on("connect", function () {
      $("connection").textContent = "Online";
      setError("");
      var reconnect = everConnected;
      everConnected = true;
      var availability = $("availability").value;  // availability lasts for a connection: say it again
      if (availability !== "available") call("set_availability", { availability: availability }).catch(handleError);
      var seen = Object.keys(transcripts).filter(function (id) { return transcripts[id].loaded; }).map(function (id) {
        return { conversation_id: id, after_seq: Math.max.apply(null, [0].concat(Object.keys(transcripts[id].messages).map(Number))) };
      });
      call("resume_cases", { cases: seen }).then(function (res) { (res.messages || []).forEach(received); }, handleError).then(function () {
        return call("list_cases", {});
      }).then(function (res) {
        waiting = []; var keepMine = mine.filter(function (id) { return id === openId; }); mine = [];
        (res.queued || []).forEach(function (c) { upsert(c); addTo(waiting, c.id); });
        (res.mine || []).forEach(function (c) { upsert(c); addTo(mine, c.id); });
        keepMine.forEach(function (id) { addTo(mine, id); });
        options = res;
        renderOptions();
        renderLists();
        if (reconnect && openId && transcriptOf(openId).loaded) loadTranscript(openId);  // its timeline
        else if (!openId && mine.length) openConversation(mine[0], false);
      }, handleError);
    });
    socket.on("connect_error", function (err) {
      var code = err && err.data && err.data.code;
      if (code === "unauthorized" || !socket.active) endSession((err.data && err.data.message) || "Please sign in again.");
      else $("connection").textContent = "Connection lost, reconnecting…";
    });
    var ended = "";  // the server ends the socket when its sign-in ends (signed out, disabled, expired, ...)
    socket.on("session_ended", function (e) { ended = staff.ended(e && e.reason); });
    socket.on("disconnect", function (reason) {
      if (reason === "io server disconnect") endSession((ended || staff.ended("")) + " Please sign in again.");
      else if (socket) $("connection").textContent = "Connection lost, reconnecting…";
    });
    socket.on("case_queued", function (c) { if (!c || !c.id) return; upsert(c); addTo(waiting, c.id); renderLists(); });
    socket.on("case_assigned", function (c) {
      if (!c || !c.id) return;
      upsert(c); removeFrom(waiting, c.id);
      if (isMine(c)) addTo(mine, c.id);
      renderLists(); if (openId === c.id) renderHeader();
    });
    socket.on("case_updated", function (c) {
      if (!c || !c.id) return;
      var before = cases[c.id];
      var changed = !before || before.status !== c.status || before.survey_answered !== c.survey_answered ||
        JSON.stringify(before.sla) !== JSON.stringify(c.sla);
      upsert(c);
      if (openId === c.id && changed && transcripts[c.id] && transcripts[c.id].loaded) loadTranscript(c.id);  // the timeline
      if (c.status === "queued") { removeFrom(mine, c.id); if (mayTake(c)) addTo(waiting, c.id); else removeFrom(waiting, c.id); }
      else removeFrom(waiting, c.id);
      if (c.status === "with_agent" && isMine(c)) addTo(mine, c.id);
      renderLists(); if (openId === c.id) renderHeader();
    });
    socket.on("typing_changed", function (e) {
      if (!e || e.conversation_id !== openId) return;
      $("typing").textContent = e.typing ? (e.name || "The customer") + " is typing…" : "";
      $("typing").hidden = !e.typing;
    });
    socket.on("message_created", received);
  }
  function received(m) {
    if (!m || !m.conversation_id) return;
    var tr = transcriptOf(m.conversation_id);
    if (tr.messages[m.seq]) return;
    tr.messages[m.seq] = m;
    if (openId === m.conversation_id) insertMessage(m);
    else { tr.unread++; renderLists(); }
  }

  // ---- state helpers ----
  function upsert(c) { cases[c.id] = Object.assign({}, cases[c.id] || {}, c); return cases[c.id]; }
  // A case moved to a queue this agent lacks the skills for leaves their list.
  function mayTake(c) { return !options.queues.length || options.queues.some(function (q) { return q.name === c.queue; }); }
  function urgent(c) { var s = c.sla || {}; return s.first_response === "warning" || s.first_response === "breached" || s.resolution === "warning" || s.resolution === "breached"; }
  // The order the server serves a queue in: SLA close to breach first, then priority, then the longest waiting.
  function servedBefore(a, b) {
    return (urgent(b) - urgent(a)) || ((PRIORITY_RANK[a.priority] || 1) - (PRIORITY_RANK[b.priority] || 1)) ||
      String(a.queued_at || "").localeCompare(String(b.queued_at || ""));
  }
  function badges(c) {
    var span = el("span", { className: "badges" });
    if (c.queue) span.appendChild(el("span", { className: "badge", "data-testid": "case-queue" }, c.queue));
    if (c.priority === "high") span.appendChild(el("span", { className: "badge badge-high", "data-testid": "case-priority" }, "High priority"));
    var s = c.sla || {}, state = [s.first_response, s.resolution].indexOf("breached") >= 0 ? "breached" : urgent(c) ? "warning" : null;
    if (state) span.appendChild(el("span", { className: "badge badge-" + state, "data-testid": "case-sla", "data-sla": state }, SLA[state]));
    return span;
  }
  function fillSelect(select, items) {
    var keep = select.value;
    select.textContent = "";
    items.forEach(function (item) { select.appendChild(el("option", { value: item[0] }, item[1])); });
    if (items.some(function (item) { return item[0] === keep; })) select.value = keep;
  }
  function renderOptions() {
    fillSelect($("resolve-category"), (options.resolution_categories || []).map(function (name) { return [name, name.replace(/_/g, " ")]; }));
    var targets = [["", "Back to its queue"]];
    (options.all_queues || []).forEach(function (q) { targets.push(["queue:" + q, "Queue: " + q]); });
    (options.colleagues || []).forEach(function (a) { targets.push(["agent:" + a.username, "Colleague: " + (a.display_name || a.username)]); });
    fillSelect($("transfer-target"), targets);
  }
  function addTo(list, id) { if (list.indexOf(id) < 0) list.push(id); }
  function removeFrom(list, id) { var i = list.indexOf(id); if (i >= 0) list.splice(i, 1); }
  function isMine(c) { return !!(staff.session && staff.session.agent && c.agent_id != null && String(c.agent_id) === String(staff.session.agent.id)); }
  function transcriptOf(id) { return transcripts[id] || (transcripts[id] = { messages: {}, loaded: false, unread: 0 }); }
  function addMessages(id, msgs) {
    var tr = transcriptOf(id);
    (msgs || []).forEach(function (m) { if (m && typeof m.seq === "number") tr.messages[m.seq] = m; });
    tr.loaded = true;
  }

  // ---- lists ----
  function renderLists() {
    var active = document.activeElement;
    var focusKey = active && active.dataset && active.dataset.conversationId ? [active.dataset.testid, active.dataset.conversationId] : null;
    var wl = $("waiting-list"), ml = $("mine-list");
    wl.textContent = ""; ml.textContent = "";
    waiting.slice().sort(function (a, b) { return servedBefore(cases[a], cases[b]); })
      .forEach(function (id) { wl.appendChild(waitingItem(cases[id])); });
    mine.forEach(function (id) { ml.appendChild(mineItem(cases[id])); });
    $("waiting-empty").hidden = waiting.length > 0;
    $("mine-empty").hidden = mine.length > 0;
    $("waiting-count").textContent = waiting.length ? "(" + waiting.length + ")" : "";
    if (focusKey) {
      Array.prototype.some.call(document.querySelectorAll("[data-conversation-id]"), function (n) {
        if (n.dataset.testid !== focusKey[0] || n.dataset.conversationId !== focusKey[1]) return false;
        n.focus(); return true;
      });
    }
  }
  function caseTitle(c) { return "Case #" + (c.case_number != null ? c.case_number : "?"); }
  function customer(c) { return c.customer_name || "Anonymous customer"; }

  function waitingItem(c) {
    var li = el("li", { className: "case", "data-testid": "waiting-item", "data-conversation-id": c.id });
    var head = el("div", { className: "case-head" });
    head.appendChild(el("strong", null, caseTitle(c)));
    head.appendChild(el("span", null, customer(c)));
    li.appendChild(head);
    li.appendChild(badges(c));
    li.appendChild(el("div", { className: "case-reason" }, reason(c.escalation_reason)));
    li.appendChild(el("time", { className: "case-time", datetime: c.queued_at || null, "data-queued-at": c.queued_at || null }, since(c.queued_at)));
    var btn = el("button", { type: "button", className: "accept", "data-testid": "accept-button", "data-conversation-id": c.id,
      "aria-label": "Accept " + caseTitle(c) + " from " + customer(c) }, "Accept");
    btn.addEventListener("click", function () { accept(c.id, btn); });
    li.appendChild(btn);
    return li;
  }
  function mineItem(c) {
    var tr = transcripts[c.id];
    var li = el("li", { className: "case" + (c.id === openId ? " current" : ""), "data-testid": "mine-item", "data-conversation-id": c.id });
    var btn = el("button", { type: "button", className: "open", "data-testid": "mine-open", "data-conversation-id": c.id,
      "aria-current": c.id === openId ? "true" : null });
    btn.appendChild(el("strong", null, caseTitle(c)));
    btn.appendChild(el("span", null, " " + customer(c) + " · " + (STATUS[c.status] || c.status)));
    btn.appendChild(badges(c));
    if (tr && tr.unread) btn.appendChild(el("span", { className: "unread", "data-testid": "mine-unread" }, " (" + tr.unread + " new)"));
    btn.addEventListener("click", function () { openConversation(c.id, true); });
    li.appendChild(btn);
    return li;
  }

  // ---- actions ----
  function accept(id, btn) {
    setError("");
    btn.disabled = true;
    call("accept_case", { conversation_id: id }).then(function (res) {
      var c = upsert(res.case || cases[id]);
      removeFrom(waiting, c.id); addTo(mine, c.id);
      addMessages(c.id, res.messages);
      openConversation(c.id, true);
    }, function (err) {
      btn.disabled = false;
      handleError(err);
      if (err.code === "conflict" || err.code === "not_found") { removeFrom(waiting, id); renderLists(); }
    });
  }
  function loadTranscript(id) {
    return api("GET", "/api/cases/" + encodeURIComponent(id)).then(function (res) {
      if (res.case) {
        details[id] = { events: res.case.events || [], earlier_cases: res.case.earlier_cases || [], survey: res.case.survey };
        delete res.case.events; delete res.case.earlier_cases; delete res.case.survey;
        upsert(res.case);
      }
      addMessages(id, res.messages);
      if (openId === id) renderConversation();
    }, function (err) { if (err.status === 401) endSession("Your session has expired. Please sign in again."); else setError(err.message); });
  }
  function openConversation(id, focus) {
    if (openId !== id) $("resolve-category").selectedIndex = 0;  // each case gets its own category
    openId = id;
    $("typing").hidden = true;
    var tr = transcriptOf(id);
    tr.unread = 0;
    renderLists();
    renderConversation();
    if (!tr.loaded || !details[id]) loadTranscript(id);  // accept_case brings the messages, not the timeline
    if (focus) $("conversation-title").focus();
  }
  var unanswered = null;  // the reply sent last, until the server answers: {text, id, client_id}
  function messageId() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    return Array.prototype.map.call(window.crypto.getRandomValues(new Uint8Array(16)), function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }
  // The customer sees the agent typing: said when it starts and stops (or 4 s after the last key).
  var typingIn = null, typingTimer = null;
  function setTyping(on) {
    clearTimeout(typingTimer);
    if (on) typingTimer = setTimeout(function () { setTyping(false); }, 4000);
    var id = on ? openId : typingIn;
    if (!id || (on && typingIn === id) || !socket || !socket.connected) return;
    if (typingIn && typingIn !== id) call("set_typing", { conversation_id: typingIn, typing: false }).catch(function () {});
    typingIn = on ? id : null;
    call("set_typing", { conversation_id: id, typing: on }).catch(function () {});
  }
  function sendReply(e) {
    e.preventDefault();
    setTyping(false);
    var input = $("reply-input"), text = input.value.trim(), id = openId;
    if (!text || !id || $("reply-send").disabled) return;
    setError("");
    $("reply-send").disabled = true;
    // A reply sent again after no answer keeps its id: the server stores it once.
    if (!unanswered || unanswered.text !== text || unanswered.id !== id) unanswered = { text: text, id: id, client_id: messageId() };
    call($("reply-note").checked ? "add_note" : "send_message", { conversation_id: id, text: text, client_id: unanswered.client_id }).then(function (res) {
      input.value = ""; unanswered = null;
      var m = res.message, tr = transcriptOf(id);
      if (m && !tr.messages[m.seq]) { tr.messages[m.seq] = m; if (openId === id) insertMessage(m); }
    }, handleError).finally(function () { renderHeader(); input.focus(); });
  }
  function resolve() {
    var category = $("resolve-category").value;
    if (!category) { setError("Choose a resolution category first."); return; }
    finish("resolve_case", "resolve-button", { category: category });
  }
  function returnToBot() { finish("return_to_bot", "return-button", {}); }
  function transfer() {
    var note = $("reply-input").value.trim(), target = $("transfer-target").value, extra = { note: note };
    if (!note) { setError("Write a note for your colleague in the reply box, then press Transfer."); $("reply-input").focus(); return; }
    if (target.indexOf("queue:") === 0) extra.queue = target.slice(6);
    if (target.indexOf("agent:") === 0) extra.to_agent = target.slice(6);
    finish("transfer_case", "transfer-button", extra, function () { $("reply-input").value = ""; });
  }
  function finish(event, button, extra, done) {
    var id = openId;
    if (!id) return;
    setError("");
    $(button).disabled = true;
    call(event, Object.assign({ conversation_id: id }, extra)).then(function (res) {
      if (res.case) upsert(res.case);
      renderLists();
      if (done) done();
    }, handleError).finally(function () { if (openId === id) renderHeader(); });
  }

  // ---- conversation view ----
  function renderConversation() {
    var c = openId && cases[openId];
    $("conversation-empty").hidden = !!c;
    $("conversation-body").hidden = !c;
    var list = $("transcript");
    list.textContent = "";
    if (!c) return;
    renderHeader();
    var msgs = transcriptOf(c.id).messages;
    Object.keys(msgs).map(Number).sort(function (a, b) { return a - b; }).forEach(function (s) { list.appendChild(messageItem(msgs[s])); });
    list.scrollTop = list.scrollHeight;
    renderHistory(c.id);
  }
  function surveyText(s) {
    if (!s) return "Not answered";
    var parts = [s.rating + " of 5"];
    if (s.nps !== null && s.nps !== undefined) parts.push("NPS " + s.nps + " of 10");
    if (s.effort !== null && s.effort !== undefined) parts.push("effort " + s.effort + " of 7");
    parts.push(s.answered_via === "link" ? "through the link" : "in the chat");
    return parts.join(" · ") + (s.comment ? ": “" + s.comment + "”" : "");
  }
  function eventText(e) {
    var what = e.from === e.to ? e.reason.replace(/_/g, " ") : (STATUS[e.to] || e.to) + " (" + e.reason.replace(/_/g, " ") + ")";
    return fmtTime(e.at) + " " + what + " · " + e.actor;
  }
  function renderHistory(id) {
    var d = details[id] || { events: [], earlier_cases: [] }, tl = $("timeline"), ec = $("earlier-cases");
    tl.textContent = ""; ec.textContent = "";
    d.events.forEach(function (e) {
      tl.appendChild(el("li", { "data-testid": "timeline-event", "data-reason": e.reason }, eventText(e)));
    });
    d.earlier_cases.forEach(function (c) {
      upsert(c);
      var li = el("li", { "data-testid": "earlier-case" });
      var open = el("button", { type: "button", "data-conversation-id": c.id }, caseTitle(c));
      open.addEventListener("click", function () { openConversation(c.id, true); });
      li.appendChild(open);
      li.appendChild(document.createTextNode(" " + fmtTime(c.created_at) + " · " + (STATUS[c.status] || c.status) +
        (c.resolution_category ? " · " + c.resolution_category.replace(/_/g, " ") : "")));
      ec.appendChild(li);
    });
    if (!d.earlier_cases.length) ec.appendChild(el("li", { className: "muted" }, "None"));
    $("case-survey").textContent = surveyText(d.survey);
    $("earlier-count").textContent = d.earlier_cases.length ? "(" + d.earlier_cases.length + " earlier)" : "";
  }
  function renderHeader() {
    var c = openId && cases[openId];
    if (!c) return;
    $("conversation-title").textContent = caseTitle(c) + " · " + customer(c);
    var dl = $("conversation-meta");
    dl.textContent = "";
    [["Subject", c.title || "-", "conversation-subject"],
      ["Status", (STATUS[c.status] || c.status) + (c.status_reason === "waiting_for_customer" ? " (waiting for customer)" : ""),
        "conversation-status"], ["Customer", customer(c)], ["Channel", c.channel || "-"],
      ["Escalation reason", reason(c.escalation_reason), "conversation-reason"], ["Waiting", c.queued_at ? since(c.queued_at) : "-"],
      ["Queue", c.queue || "-", "conversation-queue"], ["Priority", (c.priority || "-") + (c.entitlement ? " (" + c.entitlement + ")" : ""), "conversation-priority"],
      ["First response due", slaText(c, "first_response"), "conversation-sla-first"],
      ["Resolution due", slaText(c, "resolution"), "conversation-sla-resolution"]]
      .forEach(function (row) {
        var div = el("div");
        div.appendChild(el("dt", null, row[0]));
        div.appendChild(el("dd", { "data-testid": row[2] || null, "data-status": row[2] === "conversation-status" ? c.status : null }, row[1]));
        dl.appendChild(div);
      });
    var active = c.status === "with_agent" && isMine(c);
    $("resolve-button").disabled = $("return-button").disabled = $("transfer-button").disabled = !active;
    $("resolve-category").disabled = $("transfer-target").disabled = !active;
    $("reply-input").disabled = !active;
    $("reply-send").disabled = !active;
  }
  function slaText(c, key) {
    var s = c.sla || {}, due = s[key + "_due_at"];
    if (!due) return "-";
    return fmtTime(due) + (s[key] ? " (" + (SLA[s[key]] || s[key]) + ")" : "");
  }
  function insertMessage(m) {
    var list = $("transcript"), next = null;
    Array.prototype.forEach.call(list.children, function (li) {
      var s = Number(li.getAttribute("data-seq"));
      if (s > m.seq && (!next || s < Number(next.getAttribute("data-seq")))) next = li;
    });
    list.insertBefore(messageItem(m), next);
    if (!next) list.scrollTop = list.scrollHeight;
  }
  function messageItem(m) {
    var data = m.data || {};
    var sender = ["customer", "bot", "agent", "system", "note"].indexOf(m.sender) >= 0 ? m.sender : "system";
    var li = el("li", { className: "msg msg-" + sender, "data-testid": "transcript-item", "data-seq": m.seq, "data-sender": sender,
      "data-kind": data.kind || null });
    var meta = el("div", { className: "msg-meta" });
    var name = m.sender_name || (sender === "customer" ? customer(cases[m.conversation_id] || {}) : sender);
    meta.appendChild(el("span", { className: "msg-sender" }, name + " (" + (sender === "note" ? "private note" : sender) + ")"));
    meta.appendChild(el("time", { datetime: m.created_at || null }, fmtTime(m.created_at)));
    li.appendChild(meta);
    if (m.text) li.appendChild(el("p", { className: "msg-text", dir: "auto" }, m.text));
    if (data.kind === "answer" && data.article) {
      var art = el("p", { className: "msg-extra", "data-testid": "transcript-article" });
      art.appendChild(document.createTextNode("Offered article: "));
      var href = safeUrl(data.article.url);
      art.appendChild(href ? el("a", { href: href, target: "_blank", rel: "noopener noreferrer" }, data.article.title || data.article.id)
        : el("span", null, data.article.title || data.article.id));
      if (typeof data.score === "number") art.appendChild(document.createTextNode(" (score " + data.score.toFixed(2) + ")"));
      li.appendChild(art);
    }
    if (data.kind === "handoff") li.appendChild(el("p", { className: "msg-extra", "data-testid": "transcript-handoff" }, "Handed over: " + reason(data.reason)));
    if (data.kind === "survey") li.appendChild(el("p", { className: "msg-extra" }, "Satisfaction survey requested"));
    if (Array.isArray(data.buttons) && data.buttons.length)
      li.appendChild(el("p", { className: "msg-extra" }, "Buttons offered: " + data.buttons.map(function (b) { return b && b.title; }).join(", ")));
    if (data.payload) li.appendChild(el("p", { className: "msg-extra" }, "Pressed button: " + data.payload));
    return li;
  }

  // ---- boot ----
  function boot() {
    staff.bindSignIn(start, endSession);
    $("availability").addEventListener("change", function () {
      if (socket && socket.connected) call("set_availability", { availability: $("availability").value }).catch(handleError);
    });
    $("reply-form").addEventListener("submit", sendReply);
    $("kb-form").addEventListener("submit", function (e) { window.casedeskKnowledge.search(e, setError, handleError); });
    $("reply-input").addEventListener("input", function () {
      setTyping(!!$("reply-input").value.trim() && !$("reply-note").checked);
    });
    $("reply-input").addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); $("reply-form").requestSubmit ? $("reply-form").requestSubmit() : sendReply(e); }
    });
    $("resolve-button").addEventListener("click", resolve);
    $("return-button").addEventListener("click", returnToBot);
    $("transfer-button").addEventListener("click", transfer);
    $("transfer-target").addEventListener("focus", function () {  // who is signed in now
      if (socket && socket.connected) call("list_cases", {}).then(function (res) { options = res; renderOptions(); }, function () {});
    });
    setInterval(function () {
      document.querySelectorAll("[data-queued-at]").forEach(function (t) { t.textContent = since(t.getAttribute("data-queued-at")); });
    }, 30000);
    renderLists();
    staff.load();
    if (!window.io) { showLogin("The chat client could not be loaded. Reload the page."); return; }
    if (staff.session) start(); else showLogin("");
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot); else boot();
})();
