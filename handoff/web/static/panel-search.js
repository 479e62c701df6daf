/* casedesk agent panel: the knowledge search; the agent inserts an article's text into the reply box.
   Plain JS, no build step. Data is only ever inserted with textContent. */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var staff = window.casedeskStaff, el = staff.el, api = staff.api;

  function searchKnowledge(e, setError, handleError) {
    e.preventDefault();
    var q = $("kb-query").value.trim(), list = $("kb-results");
    if (!q) return;
    setError("");
    api("GET", "/api/kb/search?k=5&q=" + encodeURIComponent(q)).then(function (res) {
      list.textContent = "";
      if (!res.hits.length) list.appendChild(el("li", null, "No article matches."));
      res.hits.forEach(function (h) {
        var li = el("li", { "data-testid": "kb-hit", "data-article-id": h.article_id });
        li.appendChild(el("strong", null, h.title));
        li.appendChild(el("span", { className: "muted" }, " " + h.score.toFixed(2)));
        li.appendChild(el("p", null, h.answer.length > 240 ? h.answer.slice(0, 240) + "…" : h.answer));
        var insert = el("button", { type: "button", "data-testid": "kb-insert" }, "Insert");
        insert.addEventListener("click", function () {
          var input = $("reply-input");
          input.value = (input.value.trim() ? input.value.trim() + "\n\n" : "") + h.answer + (h.url ? "\n" + h.url : "");
          input.focus();
        });
        li.appendChild(insert);
        list.appendChild(li);
      });
    }, handleError);
  }
  window.casedeskKnowledge = { search: searchKnowledge };
})();
