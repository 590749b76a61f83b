// printerd console: live updates without reloading. The server sends a
// "change" event naming a topic (printers, queue, reprints); a page whose
// live part follows that topic fetches its live part again and swaps it
// in, keeping keyboard focus where it was. A form being filled in is not
// replaced under the person's hands: the refresh waits until focus leaves.
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live || !window.EventSource) { return; }
  var topics = (live.getAttribute("data-topics") || "").split(" ");
  var wanted = false, busy = false;

  function editing() {
    var a = document.activeElement;
    return a && live.contains(a) && (a.tagName === "SELECT" || a.tagName === "INPUT") && a.value !== "";
  }

  function refresh() {
    if (busy) { wanted = true; return; }
    if (editing()) { wanted = true; return; }
    busy = true; wanted = false;
    var url = new URL(window.location.href);
    url.searchParams.delete("done");
    url.searchParams.set("partial", "1");
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } }).then(function (r) {
      if (r.status === 401) { window.location.assign("/signin"); return null; }
      return r.ok ? r.text() : null;
    }).then(function (html) {
      if (html === null) { return; }
      var focusId = document.activeElement && live.contains(document.activeElement) ? document.activeElement.id : "";
      // Keep what the person chose in the live part's forms (a reason
      // picked, a number typed): the new HTML has the same controls.
      var kept = {};
      live.querySelectorAll("select[id], input[id]:not([type=hidden])").forEach(function (el) {
        if (el.value) { kept[el.id] = el.value; }
      });
      live.innerHTML = html;
      Object.keys(kept).forEach(function (id) {
        var el = document.getElementById(id);
        if (el && live.contains(el)) { el.value = kept[id]; }
      });
      if (focusId) {
        var el = document.getElementById(focusId);
        if (el) { el.focus(); }
      }
      document.dispatchEvent(new CustomEvent("printerd:refreshed"));
    }).catch(function () {}).finally(function () {
      busy = false;
      document.body.setAttribute("data-refreshes", String((+document.body.getAttribute("data-refreshes") || 0) + 1));
      if (wanted) { refresh(); }
    });
  }

  live.addEventListener("focusout", function () { if (wanted) { setTimeout(refresh, 0); } });
  var es = new EventSource("/live");
  es.addEventListener("change", function (e) {
    if (topics.indexOf(e.data) >= 0) { refresh(); }
  });
  es.onopen = function () {
    live.classList.remove("live-off");
    document.body.setAttribute("data-live", "on");
    // What changed between the page's rendering and this (re)connection
    // sent no event to this page: fetch the live part once.
    refresh();
  };
  es.onerror = function () { live.classList.add("live-off"); document.body.setAttribute("data-live", "off"); };
})();
