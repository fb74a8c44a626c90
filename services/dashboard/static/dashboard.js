// Live updates for the dashboard's pages: follows GET /live (Server-Sent Events). On the feed, a new
// event's row (rendered by the server) is added at the top when it matches the filters; on a figures
// page, an event of the page's topics makes it fetch its figures again (?fragment=1) and swap them in,
// keeping the focus. The status line (role="status") says when the page was last updated.
(function () {
  "use strict";
  var body = document.body;
  var topics = (body.dataset.live || "").split(" ").filter(Boolean);
  if (!topics.length || !window.EventSource) { return; }
  var region = document.getElementById("live-region");
  var status = document.getElementById("live-status");
  var FOCUSABLE = "a[href], button, input, select, textarea, summary, [tabindex]";
  var pending = null;
  var asked = 0;   // the last refresh asked for
  var shown = 0;   // the last refresh swapped in: an older answer arriving late is dropped

  function say(text) { if (status) { status.textContent = text; } }
  function now() { return new Date().toLocaleTimeString(document.documentElement.lang || "fr"); }
  function updated() { say(body.dataset.updated.replace("{time}", now())); }

  function matches(table, event) {
    var f = table.dataset;
    return (!f.filterTopic || f.filterTopic === event.topic) &&
      (!f.filterType || f.filterType === event.type) &&
      (!f.filterAction || String(event.action) === f.filterAction) &&
      (!f.filterOrganisation || event.organisations.indexOf(f.filterOrganisation) >= 0);
  }

  function addRow(event) {
    var table = document.querySelector("table.feed");
    var rows = document.getElementById("feed-rows");
    if (!table || !rows || !matches(table, event)) { return; }
    if (rows.querySelector('tr[data-position="' + event.position + '"]')) { return; }
    var holder = document.createElement("tbody");
    holder.innerHTML = event.row;  // rendered and escaped by the server
    var row = holder.firstElementChild;
    if (!row) { return; }
    row.classList.add("fresh");
    rows.insertBefore(row, rows.firstChild);
    updated();
  }

  // Where the focus is inside the region, as something that survives a swap: its id, or its
  // place among the region's focusable elements.
  function focusMark() {
    var focused = document.activeElement;
    if (!focused || focused === region || !region.contains(focused)) { return null; }
    if (focused.id) { return { id: focused.id }; }
    return { index: Array.prototype.indexOf.call(region.querySelectorAll(FOCUSABLE), focused) };
  }
  function restoreFocus(mark) {
    if (!mark) { return; }
    var target = mark.id ? document.getElementById(mark.id) : region.querySelectorAll(FOCUSABLE)[mark.index];
    if (target) { target.focus({ preventScroll: true }); }
  }

  function refresh() {
    pending = null;
    var number = ++asked;
    var url = new URL(window.location.href);
    url.searchParams.set("fragment", "1");
    fetch(url.toString(), { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        // A session that ended leads to the sign-in form: reload, rather than showing it inside.
        if (!response.ok || response.redirected) { throw new Error("stale"); }
        return response.text();
      })
      .then(function (html) {
        if (number < shown) { return; }
        shown = number;
        var mark = focusMark();
        region.innerHTML = html;
        restoreFocus(mark);
        updated();
      })
      .catch(function () { say(body.dataset.reload); });
  }

  function soon() { if (pending === null) { pending = window.setTimeout(refresh, 150); } }

  // The stream starts after the last event the page was rendered with (data-after): what was
  // applied between the rendering and the stream comes first; a reconnection sends the last id
  // received instead, so nothing is missed across a lost connection either.
  var table = document.querySelector("table.feed");
  var after = body.dataset.after;
  var source = new EventSource("/live" + (after ? "?after=" + encodeURIComponent(after) : ""));
  source.addEventListener("open", function () { say(body.dataset.connected); });
  source.addEventListener("error", function () { say(body.dataset.lost); });
  source.addEventListener("reload", function () { say(body.dataset.reload); source.close(); });
  source.addEventListener("feed", function (message) {
    var event = JSON.parse(message.data);
    if (table) { addRow(event); return; }
    if (topics.indexOf(event.topic) >= 0) { soon(); }
  });
}());
