// The console's own script: the CSRF header on htmx requests, a task's live logs (SSE),
// and the overview's live throughput chart. No inline scripts: the CSP forbids them.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="csrf-token"]');
  document.addEventListener("htmx:configRequest", function (event) {
    if (meta) { event.detail.headers["X-CSRF-Token"] = meta.content; }
  });

  function followLogs() {
    var box = document.getElementById("task-logs");
    if (!box || !window.EventSource) { return; }
    var source = new EventSource(box.dataset.stream);
    source.addEventListener("logs", function (event) {
      box.innerHTML = JSON.parse(event.data);
      box.dataset.updated = String(Date.now());
    });
    source.addEventListener("end", function () { source.close(); box.dataset.ended = "1"; });
  }

  function throughputChart() {
    var holder = document.getElementById("throughput-chart");
    if (!holder || !window.uPlot) { return; }
    var plot = null;
    function width() { return Math.max(260, holder.clientWidth - 8); }
    var timer = null;
    function refresh() {
      fetch(holder.dataset.source, { credentials: "same-origin" })
        .then(function (response) {
          if (response.status === 401) { clearInterval(timer); }
          return response.ok ? response.json() : null;
        })
        .then(function (data) {
          if (!data) { return; }
          var series = [data.t, data.finished];
          if (plot) { plot.setData(series); return; }
          plot = new uPlot({
            width: width(), height: 220,
            series: [{}, { label: "tasks finished / s", stroke: "#0550ae", width: 2,
              fill: "rgba(5,80,174,0.12)" }],
            axes: [{}, { label: "tasks/s" }]
          }, series, holder);
          holder.dataset.ready = "1";
        });
    }
    refresh();
    timer = setInterval(refresh, 2000);
    window.addEventListener("resize", function () { if (plot) { plot.setSize({ width: width(), height: 220 }); } });
  }

  // A table marked data-sortable sorts the rows it shows by a column, both ways, when its
  // header's button is pressed (the server pages by creation time; this orders a page).
  function sortableTables() {
    document.querySelectorAll("table[data-sortable]").forEach(function (table) {
      table.querySelectorAll("thead th").forEach(function (th, column) {
        var button = document.createElement("button");
        button.type = "button";
        button.className = "sort";
        button.textContent = th.textContent;
        th.textContent = "";
        th.appendChild(button);
        button.addEventListener("click", function () { sortBy(table, th, column); });
      });
    });
  }

  function sortBy(table, th, column) {
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    table.querySelectorAll("thead th").forEach(function (other) { other.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows).filter(function (row) { return row.cells.length > column; });
    var order = (th.dataset.order || "").split(",");
    function key(row) {
      var text = row.cells[column].textContent.trim();
      var rank = order.indexOf(text);
      return rank >= 0 ? rank : text;
    }
    rows.sort(function (a, b) {
      var x = key(a), y = key(b);
      var result = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y), undefined, { numeric: true });
      return ascending ? result : -result;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }

  document.addEventListener("DOMContentLoaded", function () { followLogs(); throughputChart(); sortableTables(); });
})();
