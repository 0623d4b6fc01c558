// civic-ledger console: progressive enhancement only. Every page works without this file.
(function () {
  "use strict";

  // Live feed: the caller's scoped events over Server-Sent Events (the session cookie goes along).
  function liveFeed() {
    var table = document.getElementById("feed");
    if (!table || !window.EventSource) { return; }
    var body = table.tBodies[0];
    var status = document.getElementById("feed-status");
    var source = new EventSource(table.getAttribute("data-stream"));
    var base = table.getAttribute("data-timeline");
    var labels = {};
    try { labels = JSON.parse(table.getAttribute("data-labels") || "{}"); } catch (e) { labels = {}; }
    status.textContent = status.getAttribute("data-waiting");
    source.onmessage = function (msg) {
      var ce;
      try { ce = JSON.parse(msg.data); } catch (e) { return; }
      var row = document.createElement("tr");
      row.className = "fresh";
      var when = ce.time ? new Date(ce.time) : null;
      var type = ce.type || "";
      var last = type.split(".").pop();
      var cells = [String(ce.ledgerposition), when ? beijing(when) : "", (labels[last] ? labels[last] + " " : "") + type.split(".").slice(-2).join(".")];
      cells.forEach(function (text) {
        var td = document.createElement("td");
        td.textContent = text;
        row.appendChild(td);
      });
      var td = document.createElement("td");
      var a = document.createElement("a");
      a.href = base + (ce.subject || "");
      a.textContent = ce.subject || "";
      td.appendChild(a);
      row.appendChild(td);
      body.insertBefore(row, body.firstChild);
      while (body.rows.length > 200) { body.deleteRow(body.rows.length - 1); }
    };
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function beijing(d) {
    var t = new Date(d.getTime() + 8 * 3600 * 1000);
    return t.getUTCFullYear() + "-" + pad(t.getUTCMonth() + 1) + "-" + pad(t.getUTCDate()) + " " +
      pad(t.getUTCHours()) + ":" + pad(t.getUTCMinutes()) + ":" + pad(t.getUTCSeconds());
  }

  // Verify: poll the job's progress and fill the bar; reload once it is done to show the report.
  function verifyProgress() {
    var job = document.getElementById("verify-job");
    if (!job || job.getAttribute("data-finished") === "true") { return; }
    var bar = document.getElementById("verify-bar");
    var count = document.getElementById("verify-count");
    var url = job.getAttribute("data-progress");
    function poll() {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (p) {
          if (!p) { return; }
          if (bar) { bar.max = p.total; bar.value = p.done; }
          if (count) { count.textContent = String(p.done); }
          if (p.finished) { window.location.reload(); } else { window.setTimeout(poll, 300); }
        })
        .catch(function () { window.setTimeout(poll, 1000); });
    }
    poll();
  }

  // Forms: a submitted form's button is disabled so a double click sends one command.
  function oneSubmit() {
    document.querySelectorAll("form[method=post]").forEach(function (form) {
      form.addEventListener("submit", function () {
        form.querySelectorAll("button[type=submit]").forEach(function (b) {
          window.setTimeout(function () { b.disabled = true; }, 0);
        });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { liveFeed(); verifyProgress(); oneSubmit(); });
})();
