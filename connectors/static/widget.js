/* casedesk customer chat widget. Plain JS, no build step. Text is only ever inserted with textContent. */
(function () {
  "use strict";
  if (window.__casedeskWidget) return;
  window.__casedeskWidget = true;

  var script = document.currentScript || document.querySelector("script[src*='widget.js']");
  var cfg = (script && script.dataset) || {};
  // The app serving the widget: data-server, else where this script came from (docs/widget.md).
  var SERVER = (cfg.server || (script && script.src ? new URL(script.src, window.location.href).origin : ""))
    .replace(/\/+$/, "");
  var STORE_KEY = "casedesk.conversation";
  // The customer's last ended conversation ({token, sub}): sent with the next start, so agents see it as theirs.
  var EARLIER_KEY = "casedesk.earlier";
  var I18N = {
    en: { open: "Open chat", close: "Close chat", title: "Help", input: "Your message", send: "Send", you: "You",
      bot: "Assistant", agent: "Agent", queued: "You are number {n} in the queue. An agent will be with you shortly.",
      queuedNoPos: "An agent will be with you shortly.", typing: "{name} is typing…", botTyping: "The assistant is typing…", wait: "Expected wait: about {m} min.",
      noAgents: "Nobody from our team is available right now. Leave a message here and we will answer you in this chat as soon as someone is back.",
      withAgent: "You are chatting with {name}", anAgent: "an agent",
      ended: "This conversation has ended", newConv: "Start a new conversation", rate: "{n} out of 5",
      rateLegend: "How was your experience?", comment: "Comment (optional)", submit: "Submit",
      thanks: "Thank you for your feedback", readMore: "Read the article:", offline: "Connecting…",
      timeout: "The server did not answer. Please try again.", pickRating: "Please choose a rating.",
      npsLegend: "How likely are you to recommend us?", npsHint: "0 = not at all likely, 10 = extremely likely",
      npsPoint: "{n} out of 10", effortLegend: "How easy was it to get your issue resolved?",
      effortHint: "1 = very difficult, 7 = very easy", effortPoint: "{n} out of 7", answerLater: "Answer later",
      unavailable: "The chat is not available on this page right now.", left: "{n} characters left",
      gone: "Your earlier conversation is no longer available here. Write to start a new one.",
      limited: "That was too fast. Please wait {s} seconds and try again." },
    de: { open: "Chat öffnen", close: "Chat schließen", title: "Hilfe", input: "Ihre Nachricht", send: "Senden", you: "Sie",
      bot: "Assistent", agent: "Mitarbeiter", queued: "Sie sind Nummer {n} in der Warteschlange. Gleich ist jemand für Sie da.",
      queuedNoPos: "Gleich ist jemand für Sie da.", typing: "{name} schreibt …", botTyping: "Der Assistent schreibt …", wait: "Voraussichtliche Wartezeit: etwa {m} Min.",
      noAgents: "Gerade ist niemand aus unserem Team erreichbar. Hinterlassen Sie hier eine Nachricht, wir antworten Ihnen in diesem Chat, sobald jemand da ist.",
      withAgent: "Sie chatten mit {name}", anAgent: "einem Mitarbeiter",
      ended: "Diese Unterhaltung ist beendet", newConv: "Neue Unterhaltung beginnen", rate: "{n} von 5",
      rateLegend: "Wie zufrieden waren Sie?", comment: "Kommentar (optional)", submit: "Absenden",
      thanks: "Vielen Dank für Ihr Feedback", readMore: "Zum Artikel:", offline: "Verbindung wird hergestellt…",
      timeout: "Der Server antwortet nicht. Bitte versuchen Sie es erneut.", pickRating: "Bitte wählen Sie eine Bewertung.",
      npsLegend: "Wie wahrscheinlich ist es, dass Sie uns weiterempfehlen?",
      npsHint: "0 = sehr unwahrscheinlich, 10 = sehr wahrscheinlich", npsPoint: "{n} von 10",
      effortLegend: "Wie einfach war es, Ihr Anliegen zu lösen?", effortHint: "1 = sehr schwierig, 7 = sehr einfach",
      effortPoint: "{n} von 7", answerLater: "Später beantworten",
      unavailable: "Der Chat ist auf dieser Seite gerade nicht erreichbar.", left: "Noch {n} Zeichen",
      gone: "Ihre frühere Unterhaltung ist hier nicht mehr verfügbar. Schreiben Sie, um eine neue zu beginnen.",
      limited: "Das ging zu schnell. Bitte warten Sie {s} Sekunden und versuchen Sie es dann erneut." },
    ar: { open: "افتح المحادثة", close: "أغلق المحادثة", title: "المساعدة", input: "رسالتك", send: "إرسال", you: "أنت",
      bot: "المساعد", agent: "موظف", queued: "ترتيبك {n} في قائمة الانتظار. سينضم إليك موظف قريبًا.",
      queuedNoPos: "سينضم إليك موظف قريبًا.", typing: "{name} يكتب…", botTyping: "المساعد يكتب…", wait: "مدة الانتظار المتوقعة: حوالي {m} دقيقة.",
      noAgents: "لا يوجد أحد من فريقنا متاح الآن. اترك رسالة هنا وسنرد عليك في هذه المحادثة فور عودة أحدهم.",
      withAgent: "أنت تتحدث مع {name}", anAgent: "موظف",
      ended: "انتهت هذه المحادثة", newConv: "ابدأ محادثة جديدة", rate: "{n} من 5",
      rateLegend: "كيف كانت تجربتك؟", comment: "تعليق (اختياري)", submit: "إرسال",
      thanks: "شكرًا لك على ملاحظاتك", readMore: "اقرأ المقال:", offline: "جارٍ الاتصال…",
      timeout: "لم يستجب الخادم. حاول مرة أخرى.", pickRating: "يرجى اختيار تقييم.",
      npsLegend: "ما مدى احتمال أن توصي بنا؟", npsHint: "0 = غير محتمل إطلاقًا، 10 = محتمل جدًا", npsPoint: "{n} من 10",
      effortLegend: "ما مدى سهولة حل مشكلتك؟", effortHint: "1 = صعب جدًا، 7 = سهل جدًا", effortPoint: "{n} من 7",
      answerLater: "أجب لاحقًا", unavailable: "المحادثة غير متاحة على هذه الصفحة الآن.", left: "متبقٍ {n} حرف",
      gone: "محادثتك السابقة لم تعد متاحة هنا. اكتب لبدء محادثة جديدة.",
      limited: "كان ذلك سريعًا جدًا. يرجى الانتظار {s} ثانية ثم المحاولة مرة أخرى." }
  };
  var locale = (cfg.locale || document.documentElement.lang || "en").slice(0, 2).toLowerCase();
  if (!I18N[locale]) locale = "en";
  var RTL = locale === "ar";
  // Where the launcher sits: data-position, else the end of a line in the page's reading direction.
  var POSITION = cfg.position === "left" || cfg.position === "right" ? cfg.position : (RTL ? "left" : "right");
  // The host's colours: CSS colour values only (the browser's own parser decides), else the defaults.
  function colour(name, value) {
    if (!value) return null;
    if (window.CSS && CSS.supports && CSS.supports("color", value) && !/[;{}]/.test(value)) return value;
    if (window.console) console.warn("casedesk: data-" + name + " is not a CSS colour, ignored");
    return null;
  }
  var COLOURS = { "--cdw-accent": colour("accent", cfg.accent), "--cdw-accent-text": colour("accent-text", cfg.accentText) };
  var limit = 2000;        // max_message_length, from the server's config (GET /api/widget/config)
  var config = "loading";  // "loading" | "ok" | "failed": this page may not use the server, or it is down
  function t(key, vars) {
    var s = I18N[locale][key] || I18N.en[key] || key;
    Object.keys(vars || {}).forEach(function (k) { s = s.split("{" + k + "}").join(String(vars[k])); });
    return s;
  }

  // A speech-bubble icon drawn as SVG (no emoji font needed).
  function chatIcon() {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "26");
    svg.setAttribute("height", "26");
    svg.setAttribute("aria-hidden", "true");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z");
    path.setAttribute("fill", "currentColor");
    svg.appendChild(path);
    return svg;
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "className") node.className = attrs[k];
      else if (attrs[k] !== null && attrs[k] !== undefined && attrs[k] !== false) node.setAttribute(k, attrs[k] === true ? "" : attrs[k]);
    });
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function safeUrl(url) {
    try {
      var u = new URL(String(url), SERVER || window.location.href);
      return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
    } catch (e) { return null; }
  }
  function load(key) {
    try {
      var raw = localStorage.getItem(key), v;
      try { v = JSON.parse(raw); } catch (e) { v = { token: raw }; }  // an earlier token kept by an older widget
      return v && typeof v.token === "string" && v.token ? v : null;
    } catch (e) { return null; }
  }
  function keep(key, v) { try { if (v) localStorage.setItem(key, JSON.stringify(v)); else localStorage.removeItem(key); } catch (e) { /* private mode */ } }
  function save() { keep(STORE_KEY, stored); }
  function setEarlier(v) { keep(EARLIER_KEY, v); }
  // Who the host page says the customer is: the `sub` of its identity token (read here, verified by the
  // server), null without one. Kept with each stored conversation: whose it is (docs/widget.md).
  function identitySub() {
    if (!cfg.identity) return null;
    try {
      var part = cfg.identity.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      var sub = JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(part), function (c) { return c.charCodeAt(0); }))).sub;
      if (typeof sub === "string") return sub;
    } catch (e) { /* unreadable: the server refuses it */ }
    return "?" + cfg.identity;
  }
  var SUB = identitySub();
  // This tab's session (sessionStorage: it ends with the tab), kept with each conversation started in it.
  var TAB = (function () {
    try { var v = sessionStorage.getItem("casedesk.tab") || Math.random().toString(36).slice(2); sessionStorage.setItem("casedesk.tab", v); return v; }
    catch (e) { return null; }
  })();

  // ---- state ----
  var stored = load(STORE_KEY);     // {token, id, lastSeq, sub}
  // A conversation is resumed only under the identity it was started under: on a shared computer the next
  // person never sees the previous one's. An anonymous one started in this tab, once the customer signs in,
  // is not resumed but named as the earlier conversation of the next start, which files it under the
  // signed-in contact; one from another tab (maybe another person's) is dropped.
  function ours(v) { return (v.sub || null) === SUB || (!v.sub && SUB && TAB && v.tab === TAB); }
  if (stored && (stored.sub || null) !== SUB) {
    setEarlier(ours(stored) ? { token: stored.token, sub: null, tab: TAB } : null);
    stored = null; save();
  }
  if (load(EARLIER_KEY) && !ours(load(EARLIER_KEY))) setEarlier(null);
  var shown = {};          // seq -> element, for the conversation on screen
  var shownSeq = 0;        // highest seq with no gap below it that is on screen
  var conv = null;         // latest Conversation
  var socket = null, ready = false, pending = [], starting = null, early = [];
  var ui = {};

  // ---- DOM ----
  function build() {
    var root = el("div", { className: "cdw-root cdw-" + POSITION, lang: locale, dir: RTL ? "rtl" : "ltr",
      "data-testid": "cdw-root", "data-position": POSITION });
    Object.keys(COLOURS).forEach(function (k) { if (COLOURS[k]) root.style.setProperty(k, COLOURS[k]); });
    ui.launcher = el("button", { type: "button", className: "cdw-launcher", "aria-expanded": "false", "aria-controls": "casedesk-panel",
      "aria-label": t("open"), "data-testid": "cdw-launcher" });
    ui.launcher.appendChild(chatIcon());
    ui.panel = el("section", { id: "casedesk-panel", className: "cdw-panel", role: "dialog", "aria-modal": "false",
      "aria-labelledby": "casedesk-title", hidden: true, "data-testid": "cdw-panel" });
    var header = el("header", { className: "cdw-header" });
    header.appendChild(el("h2", { id: "casedesk-title", className: "cdw-title" }, cfg.title || t("title")));
    ui.close = el("button", { type: "button", className: "cdw-close", "aria-label": t("close"), "data-testid": "cdw-close" }, "×");
    header.appendChild(ui.close);
    ui.status = el("div", { className: "cdw-status", role: "status", "data-testid": "cdw-status" });
    ui.statusText = el("span", { "data-testid": "cdw-status-text" });
    ui.newConv = el("button", { type: "button", className: "cdw-new", hidden: true, "data-testid": "cdw-new-conversation" }, t("newConv"));
    ui.status.appendChild(ui.statusText);
    ui.status.appendChild(ui.newConv);
    ui.list = el("ol", { className: "cdw-messages", role: "log", "aria-live": "polite", "aria-relevant": "additions",
      "aria-label": cfg.title || t("title"), "data-testid": "cdw-messages" });
    ui.typing = el("div", { className: "cdw-typing", "aria-live": "polite", hidden: true, "data-testid": "cdw-typing" });
    ui.error = el("div", { className: "cdw-error", role: "alert", "data-testid": "cdw-error" });
    ui.form = el("form", { className: "cdw-form", "data-testid": "cdw-form" });
    ui.form.appendChild(el("label", { for: "casedesk-input", className: "cdw-sr" }, t("input")));
    ui.input = el("textarea", { id: "casedesk-input", className: "cdw-input", rows: "1", maxlength: String(limit),
      placeholder: t("input"), autocomplete: "off", "aria-describedby": "casedesk-count", "data-testid": "cdw-input" });
    // how many characters are left, shown near the limit
    ui.count = el("p", { id: "casedesk-count", className: "cdw-count", "aria-live": "polite", hidden: true,
      "data-testid": "cdw-count" });
    ui.send = el("button", { type: "submit", className: "cdw-send", "data-testid": "cdw-send" }, t("send"));
    ui.form.appendChild(ui.input);
    ui.form.appendChild(ui.send);
    [header, ui.status, ui.list, ui.typing, ui.error, ui.count, ui.form].forEach(function (n) { ui.panel.appendChild(n); });
    root.appendChild(ui.panel);
    root.appendChild(ui.launcher);
    document.body.appendChild(root);
    ui.root = root;

    ui.launcher.addEventListener("click", function () { setOpen(ui.panel.hidden); });
    ui.close.addEventListener("click", function () { setOpen(false); });
    root.addEventListener("keydown", function (e) { if (e.key === "Escape" && !ui.panel.hidden) setOpen(false); });
    ui.form.addEventListener("submit", function (e) { e.preventDefault(); submitText(); });
    ui.input.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); submitText(); }
    });
    ui.newConv.addEventListener("click", newConversation);
    ui.input.addEventListener("input", function () { updateCount(); setTyping(!!ui.input.value.trim()); });
    resetView();
  }

  function setLimit(n) { limit = n; ui.input.maxLength = n; updateCount(); }
  function updateCount() {
    var used = ui.input.value.length, near = used >= Math.floor(limit * 0.8);
    ui.count.hidden = !near;
    ui.count.textContent = near ? t("left", { n: Math.max(0, limit - used) }) : "";
    ui.count.classList.toggle("cdw-count-full", used >= limit);
  }
  // The server's settings for the widget; refused (another origin not in widget_origins) or unreachable: said
  // in the panel, and asked again when the customer opens it or sends.
  function loadConfig() {
    config = "loading";
    return window.fetch(SERVER + "/api/widget/config", { credentials: "omit" }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    }).then(function (c) {
      if (c && typeof c.max_message_length === "number" && c.max_message_length >= 1) setLimit(c.max_message_length);
      config = "ok";
      if (ui.error.textContent === t("unavailable")) setError("");
      if (stored || pending.length || !ui.panel.hidden) connect();
    }, function () { config = "failed"; setError(t("unavailable")); });
  }

  function setOpen(open) {
    ui.panel.hidden = !open;
    ui.launcher.setAttribute("aria-expanded", String(open));
    ui.launcher.setAttribute("aria-label", open ? t("close") : t("open"));
    ui.root.classList.toggle("cdw-open", open);
    if (open) { connect(); scrollDown(); (isEnded() ? ui.newConv : ui.input).focus(); } else ui.launcher.focus();
  }

  function resetView() {
    shown = {}; shownSeq = 0; conv = null;
    ui.list.textContent = "";
    if (cfg.greeting) {
      var g = el("li", { className: "cdw-msg cdw-bot cdw-greeting", "data-testid": "cdw-greeting" });
      g.appendChild(el("p", { className: "cdw-text" }, cfg.greeting));
      ui.list.appendChild(g);
    }
    setError("");
    applyConversation(null);
  }
  function setError(msg) { ui.error.textContent = msg || ""; ui.error.hidden = !msg; }
  // What a refusal tells the customer: past a limit (rate_limited), when to try again, in their language.
  function refusal(err) { return err.code === "rate_limited" ? t("limited", { s: err.retry_after }) : err.message; }
  function scrollDown() { ui.list.scrollTop = ui.list.scrollHeight; }

  // ---- socket ----
  function call(event, payload) {
    return new Promise(function (resolve, reject) {
      socket.timeout(15000).emit(event, payload, function (err, res) {
        if (err) reject({ code: "timeout", message: t("timeout") });
        else if (res && res.ok) resolve(res);
        else reject((res && res.error) || { code: "internal", message: "Error" });
      });
    });
  }
  function whenReady(fn) { if (ready) fn(); else { pending.push(fn); connect(); } }
  function setReady() { ready = true; var q = pending; pending = []; q.forEach(function (fn) { fn(); }); }

  function connect() {
    if (socket) return;
    if (config !== "ok") { if (config === "failed") loadConfig(); return; }
    socket = window.io(SERVER + "/chat", { transports: ["websocket"] });
    socket.on("connect", function () {
      setError("");
      if (!stored) { setReady(); return; }
      var token = stored.token;
      ui.list.setAttribute("aria-busy", "true");
      var resume = { token: token, after_seq: shownSeq };
      if (cfg.identity) resume.identity = cfg.identity;  // a known customer's conversation needs it
      call("resume_conversation", resume).then(function (res) {
        ui.list.removeAttribute("aria-busy");
        if (!stored || stored.token !== token) return;
        applyConversation(res.conversation);
        (res.messages || []).forEach(renderMessage);
        // The replay is complete: a gap below its last seq is an agent's private note, never ours.
        (res.messages || []).forEach(function (m) { if (m.seq > shownSeq) shownSeq = m.seq; });
        advance();
        setReady();
      }, function (err) {
        ui.list.removeAttribute("aria-busy");
        // expired, or no longer this customer's: start afresh, and say why the chat is gone
        if (err.code === "unauthorized" || err.code === "not_found") { stored = null; save(); resetView(); setError(t("gone")); setReady(); }
        else setError(refusal(err));
      });
    });
    socket.on("disconnect", function () { ready = false; });
    socket.on("connect_error", function () { ready = false; setError(t("offline")); });
    socket.on("message_created", function (m) {
      if (!m) return;
      if (stored && m.conversation_id === stored.id) renderMessage(m);
      else if (!stored && starting) early.push(m); // arrived before the start_conversation ack
    });
    socket.on("case_updated", function (c) { if (stored && c && c.id === stored.id) applyConversation(c); });
    socket.on("typing_changed", function (e) {
      if (!stored || !e || e.conversation_id !== stored.id) return;
      // The assistant, while the bot works on an answer (or waits for its turn); an agent by name.
      var who = e.sender === "bot" ? t("botTyping") : t("typing", { name: e.name || t("anAgent") });
      ui.typing.textContent = e.typing ? who : "";
      ui.typing.hidden = !e.typing;
    });
  }

  // The agent sees the customer typing: said when it starts and when it stops (or 4 s after the last key).
  var typingNow = false, typingTimer = null;
  function setTyping(on) {
    clearTimeout(typingTimer);
    if (on) typingTimer = setTimeout(function () { setTyping(false); }, 4000);
    if (on === typingNow || !ready || !conv || conv.status !== "with_agent") return;
    typingNow = on;
    call("set_typing", { typing: on }).catch(function () {});
  }

  // ---- sending ----
  function ensureConversation() {
    if (stored) return Promise.resolve();
    if (!starting) {
      var fresh = { channel: "web", locale: locale }, earlier = load(EARLIER_KEY);
      var before = earlier && ours(earlier) && earlier.token;  // {token, sub, tab}
      if (cfg.identity) fresh.identity = cfg.identity;  // the host site's signed identity of the customer
      var start = function (payload) {
        return call("start_conversation", payload).catch(function (err) {
          if (!payload.identity || (err.code !== "unauthorized" && err.code !== "invalid_payload")) throw err;
          var anonymous = Object.assign({}, payload);  // an expired or refused identity: help them anyway
          delete anonymous.identity;
          return call("start_conversation", anonymous);
        });
      };
      starting = start(before ? Object.assign({ earlier_token: before }, fresh) : fresh).catch(function (err) {
        if (!before || err.code !== "unauthorized") throw err;
        setEarlier(null);  // that conversation is gone or its token expired: start as a new customer
        return start(fresh);
      }).then(function (res) {
        stored = { token: res.token, id: res.conversation.id, lastSeq: 0, sub: SUB, tab: TAB };
        save();
        setEarlier(null);  // the new conversation's token stands for the customer from now on
        applyConversation(res.conversation);
        early.forEach(function (m) { if (m.conversation_id === stored.id) renderMessage(m); });
      }).finally(function () { starting = null; early = []; });
    }
    return starting;
  }
  // Each message has an id of its own: sent again when no answer came (up to 3 times, after a reconnect),
  // it is the message the server stored the first time, never a second one (docs/widget.md).
  function sendMessage(text, payload) {
    var tries = 0, body = { text: text, client_id: window.crypto.randomUUID ? window.crypto.randomUUID() : String(Date.now()) + Math.random().toString(36).slice(2) };
    if (payload) body.payload = payload;
    return new Promise(function (resolve, reject) {
      (function attempt() {
        whenReady(function () {
          ensureConversation().then(function () { return call("send_message", body); }).then(function (res) { renderMessage(res.message); resolve(); },
            function (err) { if (err.code === "timeout" && ++tries < 3) attempt(); else reject(err); });
        });
      })();
    }).catch(function (err) { setError(refusal(err)); throw err; });
  }
  function submitText() {
    var text = ui.input.value.trim();
    if (!text || ui.send.disabled) return;
    if (config === "failed") { setError(t("unavailable")); loadConfig(); return; }
    setError("");
    ui.send.disabled = true;
    setTyping(false);
    sendMessage(text).then(function () { ui.input.value = ""; updateCount(); }, function () {}).finally(function () {
      ui.send.disabled = isEnded(); ui.input.focus();
    });
  }
  function newConversation() {
    if (stored) setEarlier({ token: stored.token, sub: stored.sub || null, tab: stored.tab });
    stored = null; save(); resetView();
    // a socket is bound to one conversation: open a fresh socket session for the next one
    if (socket) { ready = false; socket.disconnect(); socket.connect(); }
    ui.input.focus();
  }

  // ---- conversation state ----
  function isEnded() { return !!conv && (conv.status === "resolved" || conv.status === "abandoned" || conv.status === "cancelled"); }
  function applyConversation(c) {
    conv = c;
    var text = "";
    if (c && c.status === "queued" && c.agents_available === 0) text = t("noAgents");
    else if (c && c.status === "queued") {
      text = c.queue_position ? t("queued", { n: c.queue_position }) : t("queuedNoPos");
      if (c.estimated_wait_seconds != null) text += " " + t("wait", { m: Math.max(1, Math.round(c.estimated_wait_seconds / 60)) });
    }
    else if (c && c.status === "with_agent") text = t("withAgent", { name: c.agent_name || t("anAgent") });
    else if (isEnded()) text = t("ended");
    ui.statusText.textContent = text;
    ui.status.hidden = !text;
    ui.status.setAttribute("data-status", c ? c.status : "none");
    ui.newConv.hidden = !isEnded();
    var typingHere = document.activeElement === ui.input || document.activeElement === ui.send;
    ui.input.disabled = ui.send.disabled = isEnded();
    if (typingHere && isEnded()) ui.newConv.focus();  // the text box is closed: keep the focus in the widget
    if (isEnded()) ui.list.querySelectorAll("[data-testid=cdw-quick-reply]").forEach(function (b) { b.disabled = true; });
    if (c && c.survey_answered) ui.list.querySelectorAll(".cdw-survey form").forEach(surveyDone);
    ui.list.querySelectorAll("[data-testid=cdw-survey-later]").forEach(showLater);
  }

  // ---- rendering ----
  function advance() {  // shownSeq up to the last seq with none missing below it, remembered
    while (shown[shownSeq + 1]) shownSeq++;
    if (stored && shownSeq > (stored.lastSeq || 0)) { stored.lastSeq = shownSeq; save(); }
  }
  function renderMessage(m) {
    if (!m || typeof m.seq !== "number" || m.seq <= shownSeq || shown[m.seq]) return;
    var data = m.data || {};
    var sender = ["customer", "bot", "agent", "system"].indexOf(m.sender) >= 0 ? m.sender : "system";
    var li = el("li", { className: "cdw-msg cdw-" + sender, "data-testid": "cdw-message", "data-seq": m.seq,
      "data-sender": sender, "data-kind": data.kind || null });
    var who = sender === "customer" ? t("you") : sender === "system" ? null :
      m.sender_name || (sender === "bot" ? t("bot") : t("agent"));
    if (who) li.appendChild(el("span", { className: sender === "customer" ? "cdw-sr" : "cdw-name" }, who + (sender === "customer" ? ":" : "")));
    // dir=auto: each message in its own direction (an English line in the Arabic widget keeps its full stop)
    if (m.text) li.appendChild(el("p", { className: "cdw-text", dir: "auto" }, m.text));
    if (data.kind === "answer" && data.article && data.article.title) {
      var card = el("div", { className: "cdw-article", "data-testid": "cdw-article" });
      card.appendChild(el("span", { className: "cdw-sr" }, t("readMore") + " "));
      var href = safeUrl(data.article.url);
      card.appendChild(href ? el("a", { href: href, target: "_blank", rel: "noopener noreferrer", "data-testid": "cdw-article-link" },
        data.article.title) : el("span", null, data.article.title));
      li.appendChild(card);
    }
    if (Array.isArray(data.buttons) && data.buttons.length) li.appendChild(quickReplies(data.buttons));
    if (data.kind === "survey") li.appendChild(survey(data));
    if (sender === "bot") Object.keys(shown).forEach(function (s) {
      if (+s < m.seq) shown[s].querySelectorAll("[data-testid=cdw-quick-reply]").forEach(function (b) { b.disabled = true; });
    });
    // insert in seq order
    var next = null;
    Object.keys(shown).forEach(function (s) { if (+s > m.seq && (!next || +s < +next.getAttribute("data-seq"))) next = shown[s]; });
    ui.list.insertBefore(li, next);
    shown[m.seq] = li;
    advance();
    scrollDown();
  }

  function quickReplies(buttons) {
    var box = el("div", { className: "cdw-quick", role: "group" });
    buttons.forEach(function (b) {
      if (!b || !b.title) return;
      var btn = el("button", { type: "button", className: "cdw-quick-btn", "data-testid": "cdw-quick-reply",
        "data-payload": b.payload || null, disabled: isEnded() }, b.title);
      btn.addEventListener("click", function () {
        var all = box.querySelectorAll("button");
        all.forEach(function (x) { x.disabled = true; });
        btn.setAttribute("aria-pressed", "true");
        setError("");
        sendMessage(String(b.title), b.payload ? String(b.payload) : undefined).then(function () {
          (isEnded() ? ui.newConv : ui.input).focus();
        }, function () {
          all.forEach(function (x) { x.disabled = isEnded(); });
          btn.removeAttribute("aria-pressed");
        });
      });
      box.appendChild(btn);
    });
    return box;
  }

  // The survey's questions (docs/protocol.md): each one's answer key and, for scales, the labels.
  var SURVEY_FIELDS = { satisfaction: "rating", nps: "nps", effort: "effort", comment: "comment" };
  var SURVEY_SCALES = { nps: { legend: "npsLegend", hint: "npsHint", point: "npsPoint" },
    effort: { legend: "effortLegend", hint: "effortHint", point: "effortPoint" } };
  function surveyQuestions(data) {
    // a survey request stored before the questions were configurable: satisfaction and a comment
    var asked = Array.isArray(data.questions) ? data.questions : [{ id: "satisfaction", scale: [1, 5] }, { id: "comment" }];
    return asked.filter(function (q) { return q && SURVEY_FIELDS[q.id] && (q.id === "comment" || Array.isArray(q.scale)); });
  }

  function survey(data) {
    var wrap = el("div", { className: "cdw-survey", "data-testid": "cdw-survey" });
    var form = el("form", { className: "cdw-survey-form" });
    var chosen = {}, comment = null;
    surveyQuestions(data).forEach(function (q) {
      if (q.id === "satisfaction") form.appendChild(stars(q.scale, chosen));
      else if (q.id === "comment") {
        var cid = "casedesk-survey-" + Math.random().toString(36).slice(2);
        form.appendChild(el("label", { for: cid, className: "cdw-label" }, t("comment")));
        comment = el("textarea", { id: cid, rows: "2", maxlength: String(limit), "data-testid": "cdw-survey-comment" });
        form.appendChild(comment);
      } else form.appendChild(pointScale(q.id, q.scale, chosen));
    });
    var submit = el("button", { type: "submit", className: "cdw-survey-submit", "data-testid": "cdw-survey-submit" }, t("submit"));
    form.appendChild(submit);
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (!chosen.satisfaction) { setError(t("pickRating")); return; }
      setError("");
      submit.disabled = true;
      var payload = {};
      Object.keys(chosen).forEach(function (id) { payload[SURVEY_FIELDS[id]] = chosen[id]; });
      if (comment && comment.value.trim()) payload.comment = comment.value.trim();
      whenReady(function () {
        call("answer_survey", payload).then(function () {
          if (conv) conv.survey_answered = true;
          surveyDone(form);
          var thanks = wrap.querySelector(".cdw-thanks");
          if (thanks) thanks.focus();
        }, function (err) { submit.disabled = false; setError(refusal(err)); });
      });
    });
    wrap.appendChild(form);
    // The one-time link (Conversation.survey_url), for answering later, in another tab or on another device.
    var later = el("a", { className: "cdw-later", target: "_blank", rel: "noopener noreferrer", hidden: true,
      "data-testid": "cdw-survey-later" }, t("answerLater"));
    wrap.appendChild(later);
    showLater(later);
    if (conv && conv.survey_answered) surveyDone(form);
    return wrap;
  }
  function stars(range, chosen) {  // satisfaction: 1..5 stars
    var lo = range[0], hi = range[1];
    var set = el("fieldset");
    set.appendChild(el("legend", null, t("rateLegend")));
    var btns = [];
    var group = el("div", { className: "cdw-stars", role: "group" });
    for (var n = lo; n <= hi; n++) (function (n) {
      var b = el("button", { type: "button", className: "cdw-star", "aria-pressed": "false", "aria-label": t("rate", { n: n }),
        "data-testid": "cdw-survey-rating", "data-rating": n }, "★");
      b.addEventListener("click", function () {
        chosen.satisfaction = n;
        if (ui.error.textContent === t("pickRating")) setError("");
        btns.forEach(function (x, i) { x.setAttribute("aria-pressed", String(lo + i === n)); x.classList.toggle("cdw-on", lo + i <= n); });
      });
      btns.push(b);
      group.appendChild(b);
    })(n);
    set.appendChild(group);
    return set;
  }
  function pointScale(id, range, chosen) {  // nps 0..10, effort 1..7: a row of numbered buttons
    var labels = SURVEY_SCALES[id], lo = range[0], hi = range[1];
    var hintId = "casedesk-survey-" + id + "-" + Math.random().toString(36).slice(2);
    var set = el("fieldset", { "aria-describedby": hintId, "data-question": id });
    set.appendChild(el("legend", null, t(labels.legend)));
    set.appendChild(el("p", { id: hintId, className: "cdw-hint" }, t(labels.hint)));
    var btns = [];
    var group = el("div", { className: "cdw-points", role: "group" });
    for (var n = lo; n <= hi; n++) (function (n) {
      var b = el("button", { type: "button", className: "cdw-point", "aria-pressed": "false", "aria-label": t(labels.point, { n: n }),
        "data-testid": "cdw-survey-" + id, "data-value": n }, n);
      b.addEventListener("click", function () {
        chosen[id] = n;
        btns.forEach(function (x, i) { x.setAttribute("aria-pressed", String(lo + i === n)); });
      });
      btns.push(b);
      group.appendChild(b);
    })(n);
    set.appendChild(group);
    return set;
  }
  function showLater(link) {
    var href = conv && conv.status === "resolved" && !conv.survey_answered && conv.survey_url ? safeUrl(conv.survey_url) : null;
    if (href) link.setAttribute("href", href); else link.removeAttribute("href");
    link.hidden = !href;
  }
  function surveyDone(form) {
    var wrap = form.parentNode;
    form.remove();
    if (wrap && !wrap.querySelector(".cdw-thanks"))
      wrap.appendChild(el("p", { className: "cdw-thanks", tabindex: "-1", "data-testid": "cdw-survey-thanks" }, t("thanks")));
    var later = wrap && wrap.querySelector("[data-testid=cdw-survey-later]");
    if (later) later.remove();
  }

  // ---- boot ----
  function boot() {
    build();
    loadConfig();
  }
  function start() {
    var css = el("link", { rel: "stylesheet", href: script && script.src ? new URL("widget.css", script.src).href : SERVER + "/static/widget/widget.css" });
    document.head.appendChild(css);
    if (window.io) { boot(); return; }
    var s = el("script", { src: SERVER + "/static/vendor/socket.io.min.js" });
    s.onload = boot;
    s.onerror = function () { if (window.console) console.error("casedesk: could not load the socket.io client"); };
    document.head.appendChild(s);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
