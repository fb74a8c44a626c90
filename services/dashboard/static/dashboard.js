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
  var pending = null;

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
    holder.innerHTML = event.row;
    var row = holder.firstElementChild;
    if (!row) { return; }
    row.classList.add("fresh");
    rows.insertBefore(row, rows.firstChild);
    updated();
  }

  function refresh() {
    pending = null;
    var url = new URL(window.location.href);
    url.searchParams.set("fragment", "1");
    fetch(url.toString(), { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { if (!response.ok) { throw new Error(response.status); } return response.text(); })
      .then(function (html) {
        var focused = document.activeElement;
        var focusId = focused && region.contains(focused) ? focused.id : null;
        region.innerHTML = html;
        if (focusId && document.getElementById(focusId)) { document.getElementById(focusId).focus(); }
        updated();
      })
      .catch(function () { say(body.dataset.lost); });
  }

  // The feed asks for what came after its newest row; a figures page fetches its figures once the
  // stream is open, for what was applied between its rendering and the stream's start.
  var table = document.querySelector("table.feed");
  var after = table ? table.dataset.after : null;
  var source = new EventSource("/live" + (after ? "?after=" + encodeURIComponent(after) : ""));
  var opened = false;
  source.addEventListener("open", function () {
    say(body.dataset.connected);
    if (!table && !opened) { refresh(); }
    opened = true;
  });
  source.addEventListener("error", function () { say(body.dataset.lost); });
  source.addEventListener("reload", function () { say(body.dataset.reload); source.close(); });
  source.addEventListener("feed", function (message) {
    var event = JSON.parse(message.data);
    if (document.getElementById("feed-rows")) { addRow(event); return; }
    if (topics.indexOf(event.topic) < 0) { return; }
    if (pending === null) { pending = window.setTimeout(refresh, 150); }
  });
}());
