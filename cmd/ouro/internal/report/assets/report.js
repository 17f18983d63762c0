// The sample viewer of an ouro report: choose a stage, search its records,
// page through them. The data is the JSON in #samples-data.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("samples-data").textContent);
  var pageSize = 10;
  var sel = document.getElementById("stage");
  var q = document.getElementById("q");
  var onlyDropped = document.getElementById("onlydropped");
  var info = document.getElementById("stageinfo");
  var thead = document.querySelector("#rows thead");
  var tbody = document.querySelector("#rows tbody");
  var pageLabel = document.getElementById("page");
  var prev = document.getElementById("prev");
  var next = document.getElementById("next");
  var page = 0;
  var runs = {};
  data.forEach(function (s) { runs[s.run] = true; });
  var manyRuns = Object.keys(runs).length > 1;

  function text(tag, s, cls) {
    var el = document.createElement(tag);
    el.textContent = s;
    if (cls) { el.className = cls; }
    return el;
  }

  if (data.length === 0) {
    sel.appendChild(text("option", "no stage records"));
    sel.disabled = q.disabled = onlyDropped.disabled = prev.disabled = next.disabled = true;
    info.textContent = "No generate, judge, verify, filter, refine or evaluate stage records are in the store for this report.";
    return;
  }
  data.forEach(function (s, i) {
    var label = (manyRuns ? s.run + " · " : "") + s.address + (s.field ? " (" + s.field + ")" : "") +
      " — " + s.operator + ", " + s.total + " records";
    var o = text("option", label);
    o.value = String(i);
    sel.appendChild(o);
  });

  function current() { return data[Number(sel.value)]; }

  function matches(s) {
    var needle = q.value.trim().toLowerCase();
    return s.rows.filter(function (r) {
      if (onlyDropped.checked && r[1] !== "dropped") { return false; }
      if (!needle) { return true; }
      for (var i = 2; i < r.length; i++) {
        if (String(r[i]).toLowerCase().indexOf(needle) >= 0) { return true; }
      }
      return false;
    });
  }

  function describe(s) {
    var parts = [s.operator + " stage, " + s.status + ": " + s.total + " records" + (s.field ? " in its " + s.field : "")];
    if (s.input >= 0) {
      parts.push(s.input + " in its input, " + (s.total) + " kept, " + s.dropped + " dropped (" + s.rule + ")");
    }
    (s.counts || []).forEach(function (c) { parts.push(c[0] + ": " + c[1]); });
    parts.push(s.rows.length + " embedded");
    if (s.note) { parts.push(s.note); }
    return parts.join(" · ");
  }

  function render() {
    var s = current();
    info.textContent = describe(s);
    var filter = s.input >= 0;
    onlyDropped.disabled = !filter;
    if (!filter) { onlyDropped.checked = false; }
    thead.textContent = "";
    var hr = document.createElement("tr");
    hr.appendChild(text("th", "#"));
    if (filter) { hr.appendChild(text("th", "kept")); }
    s.columns.forEach(function (c) { hr.appendChild(text("th", c)); });
    thead.appendChild(hr);
    var rows = matches(s);
    var pages = Math.max(1, Math.ceil(rows.length / pageSize));
    if (page >= pages) { page = pages - 1; }
    tbody.textContent = "";
    rows.slice(page * pageSize, (page + 1) * pageSize).forEach(function (r) {
      var tr = document.createElement("tr");
      if (r[1]) { tr.className = r[1]; }
      tr.appendChild(text("td", String(r[0])));
      if (filter) { tr.appendChild(text("td", r[1])); }
      for (var i = 2; i < r.length; i++) { tr.appendChild(text("td", String(r[i]))); }
      tbody.appendChild(tr);
    });
    pageLabel.textContent = rows.length === 0 ? "no matching records" :
      "page " + (page + 1) + " of " + pages + " · " + rows.length + " matching of " + s.rows.length + " embedded";
    pageLabel.setAttribute("data-matching", String(rows.length));
    prev.disabled = page === 0;
    next.disabled = page >= pages - 1;
  }

  sel.addEventListener("change", function () { page = 0; render(); });
  q.addEventListener("input", function () { page = 0; render(); });
  onlyDropped.addEventListener("change", function () { page = 0; render(); });
  prev.addEventListener("click", function () { if (page > 0) { page--; render(); } });
  next.addEventListener("click", function () { page++; render(); });
  render();
})();
