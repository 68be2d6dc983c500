// Gantry's pages work without this script; it adds what must be live:
// refreshing the page's live part when an event arrives, the job log as
// it is written, running durations, and confirmation dialogs.
"use strict";

(function () {
  // --- Confirmations: forms with data-confirm ask first, then post with
  // confirm=yes (the server asks again on its own page without it).
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.confirm || form.dataset.confirmed) return;
    var dlg = document.getElementById("confirm-dialog");
    if (!dlg || typeof dlg.showModal !== "function") return;
    e.preventDefault();
    document.getElementById("confirm-text").textContent = form.dataset.confirm;
    dlg.returnValue = "";
    dlg.onclose = function () {
      if (dlg.returnValue !== "ok") return;
      form.dataset.confirmed = "1";
      // A live refresh may have replaced the form while the dialog was open.
      if (!form.isConnected) { form.hidden = true; document.body.appendChild(form); }
      if (!form.querySelector("input[name=confirm]")) {
        var c = document.createElement("input");
        c.type = "hidden"; c.name = "confirm"; c.value = "yes";
        form.appendChild(c);
      }
      form.submit();
    };
    dlg.showModal();
  });

  // --- Running durations tick.
  function fmt(s) {
    s = Math.max(0, Math.round(s));
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m " + String(s % 60).padStart(2, "0") + "s";
    return Math.floor(s / 3600) + "h " + String(Math.floor(s / 60) % 60).padStart(2, "0") + "m";
  }
  setInterval(function () {
    var now = Date.now() / 1000;
    document.querySelectorAll("[data-since]").forEach(function (el) {
      el.textContent = fmt(now - Number(el.dataset.since));
    });
  }, 1000);

  // --- Live part: an event on the page's stream re-renders #live.
  var live = document.getElementById("live");
  var busy = false, again = false, timer = 0;
  function refresh() {
    if (!live) return;
    var dlg = document.getElementById("confirm-dialog");
    if (dlg && dlg.open) { setTimeout(schedule, 500); return; }
    if (busy) { again = true; return; }
    busy = true;
    fetch(location.href, { headers: { "X-Gantry-Fragment": "live" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null) return;
        var focused = document.activeElement, key = null;
        if (focused && live.contains(focused)) key = focused.getAttribute("aria-label") || focused.id || focused.textContent;
        live.innerHTML = html;
        if (key) {
          var match = Array.prototype.find.call(live.querySelectorAll("a,button,input,select"), function (el) {
            return (el.getAttribute("aria-label") || el.id || el.textContent) === key;
          });
          if (match) match.focus();
        }
        document.dispatchEvent(new CustomEvent("gantry:refreshed"));
      })
      .catch(function () {})
      .finally(function () {
        busy = false;
        if (again) { again = false; schedule(); }
      });
  }
  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 200);
  }
  document.addEventListener("gantry:refresh", schedule);

  var src = document.body.dataset.events;
  if (src && live && window.EventSource) {
    var last = null;
    var open = function () {
      var url = src;
      if (last !== null) url = url.replace(/([?&])after=\d+/, "$1after=" + last);
      var es = new EventSource(url);
      var on = function (e) { last = e.lastEventId || last; schedule(); };
      es.addEventListener("pipeline", on);
      es.addEventListener("job", on);
      es.addEventListener("deployment", on);
      es.onerror = function () {
        // The query's after= would win over Last-Event-ID: reconnect by hand.
        es.close();
        setTimeout(open, 2000);
      };
    };
    open();
  }

  var logEl = document.getElementById("log");
  if (logEl && logEl.dataset.stream && window.GantryLog) window.GantryLog.start(logEl);
  if (logEl) window.GantryLog && window.GantryLog.controls(logEl);
})();
