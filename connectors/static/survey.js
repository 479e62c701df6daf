/* casedesk survey page, opened from a one-time link (/survey/<token>). Plain JS, no build step.
   Text is only ever inserted with textContent. */
(function () {
  "use strict";

  var I18N = {
    en: { title: "Rate your conversation", caseNo: "Case #{n}", loading: "Loading…",
      satisfaction: "How satisfied are you with this conversation?", rate: "{n} out of 5",
      nps: "How likely are you to recommend us?", npsHint: "0 = not at all likely, 10 = extremely likely",
      npsPoint: "{n} out of 10",
      effort: "How easy was it to get your issue resolved?", effortHint: "1 = very difficult, 7 = very easy",
      effortPoint: "{n} out of 7",
      comment: "Comment (optional)", submit: "Submit", pickRating: "Please choose a rating.",
      thanks: "Thank you for your feedback.", answered: "This survey has been answered already. Thank you!",
      expired: "This survey link has expired.",
      invalid: "This survey link is not valid. Please check that you copied the whole link.",
      notFound: "We could not find this survey.", notYet: "This survey opens when your conversation has ended.",
      error: "Something went wrong. Please try again." },
    de: { title: "Bewerten Sie Ihre Unterhaltung", caseNo: "Vorgang Nr. {n}", loading: "Wird geladen…",
      satisfaction: "Wie zufrieden sind Sie mit dieser Unterhaltung?", rate: "{n} von 5",
      nps: "Wie wahrscheinlich ist es, dass Sie uns weiterempfehlen?",
      npsHint: "0 = sehr unwahrscheinlich, 10 = sehr wahrscheinlich", npsPoint: "{n} von 10",
      effort: "Wie einfach war es, Ihr Anliegen zu lösen?", effortHint: "1 = sehr schwierig, 7 = sehr einfach",
      effortPoint: "{n} von 7",
      comment: "Kommentar (optional)", submit: "Absenden", pickRating: "Bitte wählen Sie eine Bewertung.",
      thanks: "Vielen Dank für Ihr Feedback.", answered: "Diese Umfrage wurde bereits beantwortet. Vielen Dank!",
      expired: "Dieser Umfrage-Link ist abgelaufen.",
      invalid: "Dieser Umfrage-Link ist ungültig. Bitte prüfen Sie, ob Sie den ganzen Link kopiert haben.",
      notFound: "Wir konnten diese Umfrage nicht finden.", notYet: "Die Umfrage öffnet, wenn Ihre Unterhaltung beendet ist.",
      error: "Etwas ist schiefgelaufen. Bitte versuchen Sie es erneut." },
    ar: { title: "قيّم محادثتك", caseNo: "الحالة رقم {n}", loading: "جارٍ التحميل…",
      satisfaction: "ما مدى رضاك عن هذه المحادثة؟", rate: "{n} من 5",
      nps: "ما مدى احتمال أن توصي بنا؟", npsHint: "0 = غير محتمل إطلاقًا، 10 = محتمل جدًا", npsPoint: "{n} من 10",
      effort: "ما مدى سهولة حل مشكلتك؟", effortHint: "1 = صعب جدًا، 7 = سهل جدًا", effortPoint: "{n} من 7",
      comment: "تعليق (اختياري)", submit: "إرسال", pickRating: "يرجى اختيار تقييم.",
      thanks: "شكرًا لك على ملاحظاتك.", answered: "تمت الإجابة على هذا الاستبيان بالفعل. شكرًا لك!",
      expired: "انتهت صلاحية رابط هذا الاستبيان.",
      invalid: "رابط هذا الاستبيان غير صالح. يرجى التأكد من نسخ الرابط كاملًا.",
      notFound: "تعذر العثور على هذا الاستبيان.", notYet: "يُفتح هذا الاستبيان عند انتهاء محادثتك.",
      error: "حدث خطأ ما. يرجى المحاولة مرة أخرى." }
  };
  // The answer's key and the scale of each question (docs/protocol.md, "Survey links").
  var FIELDS = { satisfaction: "rating", nps: "nps", effort: "effort", comment: "comment" };
  var POINT = { satisfaction: "rate", nps: "npsPoint", effort: "effortPoint" };
  var HINT = { nps: "npsHint", effort: "effortHint" };

  var locale = "en";
  function setLocale(value) {
    var lang = String(value || "").slice(0, 2).toLowerCase();
    locale = I18N[lang] ? lang : "en";
    document.documentElement.lang = locale;
    document.documentElement.dir = locale === "ar" ? "rtl" : "ltr";
  }
  function t(key, vars) {
    var s = I18N[locale][key] || I18N.en[key] || key;
    Object.keys(vars || {}).forEach(function (k) { s = s.split("{" + k + "}").join(String(vars[k])); });
    return s;
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

  var token = decodeURIComponent(window.location.pathname.split("/").pop() || "");
  var api = "/api/surveys/" + encodeURIComponent(token);
  var ui = {
    title: document.getElementById("sv-title"),
    caseNo: document.querySelector("[data-testid=survey-case]"),
    body: document.querySelector("[data-testid=survey-body]")
  };

  function request(method, body) {
    return fetch(api, {
      method: method, headers: body ? { "Content-Type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined, cache: "no-store", credentials: "omit"
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (data) {
        return { status: response.status, data: data || {} };
      });
    });
  }

  function notice(key, kind) {
    ui.body.textContent = "";
    ui.body.appendChild(el("p", { className: kind === "done" ? "sv-done" : "sv-notice", "data-testid": "survey-notice",
      "data-state": key }, t(key)));
  }
  function problem(status) {
    return { 401: "invalid", 404: "notFound", 409: "notYet" }[status] || "error";
  }

  function render(state) {
    setLocale(state.locale);
    document.title = t("title");
    ui.title.textContent = t("title");
    ui.caseNo.textContent = t("caseNo", { n: state.case_number });
    if (state.answered) return notice("answered", "done");
    if (state.expired) return notice("expired");
    ui.body.textContent = "";
    ui.body.appendChild(form(state.questions || []));
  }

  function scale(question, chosen) {
    var low = question.scale[0], high = question.scale[1], buttons = [];
    var group = el("div", { className: "sv-scale" + (question.id === "satisfaction" ? " sv-stars" : ""),
      "data-testid": "survey-scale-" + question.id });
    for (var n = low; n <= high; n++) (function (n) {
      var b = el("button", { type: "button", "aria-pressed": "false", "aria-label": t(POINT[question.id], { n: n }),
        "data-testid": "survey-" + question.id, "data-value": n }, question.id === "satisfaction" ? "★" : n);
      b.addEventListener("click", function () {
        chosen[question.id] = n;
        buttons.forEach(function (x, i) {
          x.setAttribute("aria-pressed", String(low + i === n));
          if (question.id === "satisfaction") x.classList.toggle("sv-on", low + i <= n);
        });
      });
      buttons.push(b);
      group.appendChild(b);
    })(n);
    return group;
  }

  function form(questions) {
    var f = el("form", { className: "sv-form", "data-testid": "survey-form", novalidate: true });
    var error = el("p", { className: "sv-error", role: "alert", "data-testid": "survey-error" });
    var chosen = {}, comment = null;
    questions.forEach(function (q) {
      if (!FIELDS[q.id]) return;  // a question this page does not know
      if (q.id === "comment") {
        f.appendChild(el("label", { for: "sv-comment", className: "sv-label" }, t("comment")));
        comment = el("textarea", { id: "sv-comment", className: "sv-comment", maxlength: "2000", rows: "3",
          "data-testid": "survey-comment" });
        f.appendChild(comment);
        return;
      }
      if (!Array.isArray(q.scale)) return;
      var set = el("fieldset", { className: "sv-question", "data-question": q.id });
      set.appendChild(el("legend", null, t(q.id)));
      if (HINT[q.id]) {
        var hintId = "sv-hint-" + q.id;
        set.appendChild(el("p", { id: hintId, className: "sv-hint" }, t(HINT[q.id])));
        set.setAttribute("aria-describedby", hintId);
      }
      set.appendChild(scale(q, chosen));
      f.appendChild(set);
    });
    f.addEventListener("click", function () {  // a rating chosen (by mouse or keyboard) answers the request for one
      if (chosen.satisfaction && error.textContent === t("pickRating")) error.textContent = "";
    });
    var submit = el("button", { type: "submit", className: "sv-submit", "data-testid": "survey-submit" }, t("submit"));
    f.appendChild(error);
    f.appendChild(submit);
    f.addEventListener("submit", function (e) {
      e.preventDefault();
      if (!chosen.satisfaction) {
        error.textContent = t("pickRating");
        var first = f.querySelector("[data-testid=survey-satisfaction]");
        if (first) first.focus();
        return;
      }
      error.textContent = "";
      var body = {};
      Object.keys(chosen).forEach(function (id) { body[FIELDS[id]] = chosen[id]; });
      if (comment && comment.value.trim()) body.comment = comment.value.trim();
      submit.disabled = true;
      request("POST", body).then(function (res) {
        if (res.status === 200) { notice("thanks", "done"); ui.title.focus(); return; }
        if (res.status === 409) { return load(); }  // answered in the chat meanwhile, or expired
        submit.disabled = false;
        error.textContent = t(problem(res.status));
      }, function () { submit.disabled = false; error.textContent = t("error"); });
    });
    return f;
  }

  function load() {
    return request("GET").then(function (res) {
      if (res.status === 200) render(res.data);
      else notice(problem(res.status));
    }, function () { notice("error"); });
  }

  setLocale(navigator.language);
  document.title = t("title");
  ui.title.textContent = t("title");
  notice("loading");
  load();
})();
