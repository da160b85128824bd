"use strict";
// vnetsim report: draws itself from the JSON in #data. No network access.
(function () {
  var started = performance.now();
  var errors = document.getElementById("errors");
  window.addEventListener("error", function (e) {
    errors.hidden = false;
    errors.textContent += (e.message || String(e)) + "\n";
    document.body.dataset.errors = String((Number(document.body.dataset.errors) || 0) + 1);
  });

  var D = JSON.parse(document.getElementById("data").textContent);
  var K = Math.max(1, D.outcomes.length);
  var CS = 2 + K, PS = 4 + K;
  var GLYPH = { "reachable": "\u25CF", "unreachable": "\u2716", "no-return": "\u21BA", "mixed": "\u25D1", "other": "?" };
  var COLOR = { "reachable": [0, 158, 115], "unreachable": [213, 94, 0], "no-return": [230, 159, 0], "mixed": [0, 114, 178], "other": [153, 153, 153] };

  function el(tag, attrs, kids) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      if (k === "text") e.textContent = attrs[k];
      else if (k === "cls") e.className = attrs[k];
      else if (k === "on") e.addEventListener("click", attrs[k]);
      else e.setAttribute(k, attrs[k]);
    }
    (kids || []).forEach(function (c) { if (c != null) e.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return e;
  }
  function fmt(n) { return Number(n).toLocaleString("en-US"); }
  function cls(name) { return COLOR[name] ? name : "other"; }
  function glyph(name) { return el("span", { cls: "glyph o-" + cls(name), text: GLYPH[cls(name)], title: name }); }
  function outcomeCell(name) { return el("td", {}, [glyph(name), name]); }
  function table(head, rows, numeric) {
    var t = el("table");
    t.appendChild(el("tr", {}, head.map(function (h, i) { return el("th", { cls: numeric && numeric[i] ? "n" : "", text: h }); })));
    rows.forEach(function (r) { t.appendChild(r); });
    return t;
  }
  function tr(cells, onclick) {
    var r = el("tr", onclick ? { cls: "row-click", on: onclick } : {});
    cells.forEach(function (c) {
      if (c instanceof Node) r.appendChild(c);
      else r.appendChild(el("td", { cls: typeof c === "number" ? "n" : "", text: typeof c === "number" ? fmt(c) : (c == null ? "" : String(c)) }));
    });
    return r;
  }
  // The class of a tally: the one outcome it holds, or mixed.
  function classOf(counts) {
    var only = -1, n = 0;
    for (var s = 0; s < K; s++) if (counts[s] > 0) { n++; only = s; }
    if (n === 0) return null;
    return n > 1 ? "mixed" : cls(D.outcomes[only]);
  }
  function countsOf(arr, base) { var c = []; for (var s = 0; s < K; s++) c.push(arr[base + s]); return c; }
  function bar(counts) {
    var total = counts.reduce(function (a, b) { return a + b; }, 0) || 1;
    var b = el("span", { cls: "bar" });
    counts.forEach(function (c, s) {
      if (c > 0) {
        var rgb = COLOR[cls(D.outcomes[s])];
        b.appendChild(el("i", { style: "width:" + (100 * c / total) + "%;background:rgb(" + rgb.join(",") + ")" }));
      }
    });
    return b;
  }

  var app = document.getElementById("app");
  app.appendChild(el("h1", { text: D.title }));
  // Audits and reach regions have sections only, no flows of their own.
  var sectionsOnly = D.kind === "audit" || D.kind === "reach";
  app.appendChild(el("div", { cls: "notes", text: D.kind + (sectionsOnly ? "" : ": " + fmt(D.flows) + " flows") + (D.kind === "diff" && D.changes ? ", " + fmt(D.changes.changed) + " changed" : "") }));
  if (D.notes.length) app.appendChild(el("ul", { cls: "notes" }, D.notes.map(function (n) { return el("li", { text: n }); })));

  // ---- sections (drift, influence maps): data in the shape html.rs documents ----
  function docTable(sid, t, ti) {
    var box = el("div", { cls: "doc-table" });
    if (t.title) box.appendChild(el("h3", { text: t.title }));
    var numeric = t.columns.map(function (_, i) { return t.rows.length > 0 && typeof t.rows[0][i] === "number"; });
    box.appendChild(table(t.columns, t.rows.map(function (r, ri) {
      var d = t.details && t.details[ri];
      var cells = r.map(function (c, i) {
        if (typeof c === "number") return /port$/i.test(t.columns[i]) ? el("td", { cls: "n", text: String(c) }) : c;
        return el("td", { cls: "mono", text: c == null ? "" : String(c) });
      });
      if (d) cells.push("details \u25B8");
      var row = tr(cells, d && sid != null ? function () { location.hash = "sec=" + sid + "&row=" + ti + "," + ri; } : null);
      if (d) row.dataset.detail = ti + "," + ri;
      return row;
    }), numeric));
    if (t.omitted) box.appendChild(el("p", { cls: "notes", text: fmt(t.omitted) + " more not kept in the report" }));
    return box;
  }
  function showDetail(sid, d) {
    var host = document.getElementById("sec-" + sid + "-detail");
    if (!host || !d) return;
    host.textContent = "";
    host.appendChild(el("h3", { id: "sec-" + sid + "-detail-title", text: d.title }));
    (d.notes || []).forEach(function (n) { host.appendChild(el("p", { cls: "notes", text: n })); });
    (d.tables || []).forEach(function (t) { host.appendChild(docTable(null, t, 0)); });
    host.scrollIntoView && host.scrollIntoView({ block: "nearest" });
  }
  function docMatrix(s) {
    var m = s.matrix;
    var at = new Map();
    m.cells.forEach(function (c) { at.set(c[0] * m.cols.length + c[1], c); });
    var t = el("table", { cls: "matrix", id: "sec-" + s.id + "-matrix" });
    if (m.caption) t.appendChild(el("caption", { cls: "notes", text: m.caption }));
    t.appendChild(el("tr", {}, [el("th")].concat(m.cols.map(function (c) { return el("th", { cls: "c", text: c }); }))));
    m.rows.forEach(function (rname, r) {
      var row = el("tr", {}, [el("th", { cls: "r", text: rname })]);
      m.cols.forEach(function (_, c) {
        var x = at.get(r * m.cols.length + c);
        var td = el("td", { cls: "m" + (x && x[3] ? " m-" + x[3] : (x ? "" : " m-diag")), text: x ? x[2] : "" });
        if (x && x[4] != null) {
          td.classList.add("row-click");
          td.dataset.cell = r + "," + c;
          td.title = rname + " \u2192 " + m.cols[c];
          td.addEventListener("click", function () { location.hash = "sec=" + s.id + "&cell=" + r + "," + c; });
        }
        row.appendChild(td);
      });
      t.appendChild(row);
    });
    return t;
  }
  var sectionById = {};
  (D.sections || []).forEach(function (s) {
    sectionById[s.id] = s;
    var box = el("section", { cls: "doc", id: "sec-" + s.id });
    box.appendChild(el("h2", { text: s.title }));
    (s.notes || []).forEach(function (n) { box.appendChild(el("p", { cls: "notes", text: n })); });
    if (s.matrix) box.appendChild(docMatrix(s));
    box.appendChild(el("div", { cls: "sec-detail", id: "sec-" + s.id + "-detail" }));
    (s.tables || []).forEach(function (t, ti) { box.appendChild(docTable(s.id, t, ti)); });
    app.appendChild(box);
  });
  function routeSection(h) {
    var m = /^sec=([^&]+)&(cell|row)=(\d+),(\d+)$/.exec(h);
    if (!m || !sectionById[m[1]]) return false;
    var s = sectionById[m[1]], a = Number(m[3]), b = Number(m[4]);
    if (m[2] === "cell") {
      var c = (s.matrix ? s.matrix.cells : []).filter(function (x) { return x[0] === a && x[1] === b; })[0];
      if (c && c[4] != null) showDetail(s.id, s.matrix.details[c[4]]);
    } else {
      var t = s.tables[a];
      if (t && t.details && t.details[b]) showDetail(s.id, t.details[b]);
    }
    return true;
  }
  function ready() {
    document.body.dataset.renderMs = String(Math.round(performance.now() - started));
    document.body.dataset.state = "ready";
  }
  if (sectionsOnly) {
    var routeAudit = function () { routeSection(decodeURIComponent(location.hash.replace(/^#/, ""))); };
    window.addEventListener("hashchange", routeAudit);
    routeAudit();
    ready();
    return;
  }

  // ---- summary ----
  var S = D.summary;
  app.appendChild(el("h2", { text: "Outcomes" }));
  var outRows = Object.keys(S.outcomes).map(function (k) {
    var name = k === "noReturn" ? "no-return" : k;
    return tr([outcomeCell(name), S.outcomes[k], S.flows ? (100 * S.outcomes[k] / S.flows).toFixed(1) + "%" : ""]);
  });
  app.appendChild(table(["outcome", "flows", "share"], outRows, [0, 1, 1]));
  if (S.asymmetric) app.appendChild(el("div", { cls: "notes", text: "asymmetric replies: " + fmt(S.asymmetric) }));

  // ---- heat map ----
  var levelName = D.level === "subnet" ? "subnet \u00D7 subnet" : "VNet \u00D7 VNet";
  app.appendChild(el("h2", { text: "Reachability heat map, " + levelName + " (" + D.rows.length + " \u00D7 " + D.cols.length + ")" }));
  var legend = el("div", { cls: "legend" });
  ["reachable", "unreachable", "no-return", "mixed"].concat(D.outcomes.filter(function (o) { return !COLOR[o]; }).length ? ["other"] : []).forEach(function (name) {
    var rgb = COLOR[name];
    legend.appendChild(el("span", {}, [el("span", { cls: "sw", style: "background:rgb(" + rgb.join(",") + ")" }), glyph(name), name === "mixed" ? "mixed outcomes" : "all " + name]));
  });
  app.appendChild(legend);
  var layout = el("div", { cls: "layout" });
  var heat = el("div", { cls: "heat", id: "heat" });
  var details = el("section", { id: "details" });
  layout.appendChild(heat); layout.appendChild(details);
  app.appendChild(layout);
  var tip = el("div", { id: "tip" });
  document.body.appendChild(tip);

  var nCells = D.cells.length / CS;
  var cellAt = new Map();
  for (var i = 0; i < nCells; i++) cellAt.set(D.cells[i * CS] * D.cols.length + D.cells[i * CS + 1], i);
  var R = D.rows.length, C = D.cols.length;
  var px = Math.max(1, Math.min(28, Math.floor(900 / Math.max(R, C, 1))));
  var labels = px >= 8;
  var left = labels ? Math.min(220, 7 * Math.max.apply(null, D.rows.map(function (s) { return s.length; }).concat([4]))) : 0;
  var top = labels ? Math.min(220, 7 * Math.max.apply(null, D.cols.map(function (s) { return s.length; }).concat([4]))) : 0;
  var canvas = el("canvas", { width: left + C * px + 1, height: top + R * px + 1, role: "img", "aria-label": "heat map " + levelName });
  heat.appendChild(canvas);
  drawHeat(canvas.getContext("2d"));

  function drawHeat(g) {
    var img = g.createImageData(C * px, R * px), data = img.data;
    for (var i = 0; i < img.data.length; i += 4) { data[i] = 244; data[i + 1] = 244; data[i + 2] = 244; data[i + 3] = 255; }
    for (var c = 0; c < nCells; c++) {
      var r0 = D.cells[c * CS], c0 = D.cells[c * CS + 1];
      var k = classOf(countsOf(D.cells, c * CS + 2));
      if (!k) continue;
      var rgb = COLOR[k];
      var inset = px >= 4 ? 1 : 0;
      for (var y = inset; y < px; y++) {
        var row = ((r0 * px + y) * C * px + c0 * px) * 4;
        for (var x = inset; x < px; x++) {
          var o = row + x * 4;
          // Unreachable cells are hatched (every fourth diagonal lighter) so they read without colour.
          var hatch = k === "unreachable" && px >= 6 && ((x + y) % 4 === 0);
          data[o] = hatch ? 250 : rgb[0]; data[o + 1] = hatch ? 220 : rgb[1]; data[o + 2] = hatch ? 200 : rgb[2]; data[o + 3] = 255;
        }
      }
    }
    g.fillStyle = "white"; g.fillRect(0, 0, canvas.width, canvas.height);
    g.putImageData(img, left, top);
    if (px >= 14) {
      g.font = Math.floor(px * 0.6) + "px sans-serif"; g.textAlign = "center"; g.textBaseline = "middle"; g.fillStyle = "white";
      for (var c2 = 0; c2 < nCells; c2++) {
        var k2 = classOf(countsOf(D.cells, c2 * CS + 2));
        if (k2) g.fillText(GLYPH[k2], left + D.cells[c2 * CS + 1] * px + px / 2, top + D.cells[c2 * CS] * px + px / 2 + 1);
      }
    }
    if (labels) {
      g.fillStyle = "#1b1b1b"; g.font = Math.min(12, px - 1) + "px sans-serif"; g.textBaseline = "middle";
      g.textAlign = "right";
      D.rows.forEach(function (s, r) { g.fillText(s.length > 30 ? s.slice(0, 29) + "\u2026" : s, left - 4, top + r * px + px / 2); });
      g.save(); g.textAlign = "left";
      D.cols.forEach(function (s, c) {
        g.save(); g.translate(left + c * px + px / 2, top - 4); g.rotate(-Math.PI / 2);
        g.fillText(s.length > 30 ? s.slice(0, 29) + "\u2026" : s, 0, 0); g.restore();
      });
      g.restore();
    }
  }
  function cellUnder(ev) {
    var b = canvas.getBoundingClientRect();
    var x = ev.clientX - b.left - left, y = ev.clientY - b.top - top;
    if (x < 0 || y < 0) return -1;
    var c = Math.floor(x / px), r = Math.floor(y / px);
    if (r >= R || c >= C) return -1;
    var i = cellAt.get(r * C + c);
    return i === undefined ? -1 : i;
  }
  canvas.addEventListener("mousemove", function (ev) {
    var i = cellUnder(ev);
    if (i < 0) { tip.style.display = "none"; return; }
    var counts = countsOf(D.cells, i * CS + 2);
    tip.textContent = D.rows[D.cells[i * CS]] + " \u2192 " + D.cols[D.cells[i * CS + 1]] + ": " +
      counts.map(function (n, s) { return n ? fmt(n) + " " + D.outcomes[s] : null; }).filter(Boolean).join(", ");
    tip.style.display = "block"; tip.style.left = (ev.clientX + 12) + "px"; tip.style.top = (ev.clientY + 12) + "px";
  });
  canvas.addEventListener("mouseleave", function () { tip.style.display = "none"; });
  canvas.addEventListener("click", function (ev) { var i = cellUnder(ev); if (i >= 0) location.hash = "cell=" + D.cells[i * CS] + "," + D.cells[i * CS + 1]; });

  // ---- drill-down ----
  var repsOfCell = {}, repsOfPair = {};
  D.cellReps.forEach(function (x) { (repsOfCell[x[0]] = repsOfCell[x[0]] || []).push(x); });
  D.pairReps.forEach(function (x) { (repsOfPair[x[0]] = repsOfPair[x[0]] || []).push(x); });
  var pairsOfCell = null;
  function indexPairs() {
    pairsOfCell = new Map();
    for (var p = 0; p < D.pairs.length / PS; p++) {
      var key = D.pairs[p * PS + 2] * C + D.pairs[p * PS + 3];
      var l = pairsOfCell.get(key);
      if (!l) pairsOfCell.set(key, l = []);
      l.push(p);
    }
  }
  function showCell(r, c) {
    details.textContent = "";
    var i = cellAt.get(r * C + c);
    if (i === undefined) { details.appendChild(el("p", { text: "No flows between " + D.rows[r] + " and " + D.cols[c] + "." })); return; }
    if (!pairsOfCell) indexPairs();
    var counts = countsOf(D.cells, i * CS + 2);
    details.appendChild(el("h3", { id: "cell-title", text: D.rows[r] + " \u2192 " + D.cols[c] }));
    details.appendChild(table(["outcome", "flows"], counts.map(function (n, s) { return n ? tr([outcomeCell(D.outcomes[s]), n]) : null; }).filter(Boolean), [0, 1]));
    var reps = repsOfCell[i] || [];
    if (reps.length) {
      details.appendChild(el("h3", { text: "Representative flows (the first of each outcome)" }));
      details.appendChild(repTable(reps.map(function (x) { return x[2]; })));
    }
    var pairs = pairsOfCell.get(r * C + c) || [];
    details.appendChild(el("h3", { text: "Endpoint pairs (" + fmt(pairs.length) + ")" }));
    var shown = pairs.slice(0, 500);
    details.appendChild(table(["source", "destination", "flows", "outcomes"], shown.map(function (p) {
      var pc = countsOf(D.pairs, p * PS + 4);
      var total = pc.reduce(function (a, b) { return a + b; }, 0);
      var src = D.members[D.pairs[p * PS]], dst = D.members[D.pairs[p * PS + 1]];
      var row = tr([el("td", { cls: "mono", text: src[0], title: src[1] + " in " + src[2] }), el("td", { cls: "mono", text: dst[0], title: dst[1] + " in " + dst[2] }), total, el("td", {}, [bar(pc), " ", glyph(classOf(pc) || "other")])],
        function () { location.hash = "pair=" + p; });
      row.dataset.pair = String(p);
      return row;
    }), [0, 0, 1, 0]));
    if (pairs.length > shown.length) details.appendChild(el("p", { cls: "notes", text: "first 500 of " + fmt(pairs.length) + " pairs shown" }));
    if (D.limits.pairsDropped) details.appendChild(el("p", { cls: "warn", text: "Endpoint pairs beyond the report's budget of " + fmt(D.limits.pairsMax) + " are counted in the cells but not listed (" + fmt(D.limits.pairsDropped) + " flows). Narrow --from/--to to list them." }));
  }
  function showPair(p) {
    details.textContent = "";
    var src = D.members[D.pairs[p * PS]], dst = D.members[D.pairs[p * PS + 1]];
    var back = el("a", { href: "#cell=" + D.pairs[p * PS + 2] + "," + D.pairs[p * PS + 3], text: "\u2190 " + D.rows[D.pairs[p * PS + 2]] + " \u2192 " + D.cols[D.pairs[p * PS + 3]] });
    details.appendChild(el("p", {}, [back]));
    details.appendChild(el("h3", { id: "pair-title", text: src[0] + " \u2192 " + dst[0] }));
    details.appendChild(table([], [tr(["source subnet", src[1]]), tr(["source VNet", src[2]]), tr(["destination subnet", dst[1]]), tr(["destination VNet", dst[2]])]));
    var pc = countsOf(D.pairs, p * PS + 4);
    details.appendChild(table(["outcome", "flows"], pc.map(function (n, s) { return n ? tr([outcomeCell(D.outcomes[s]), n]) : null; }).filter(Boolean), [0, 1]));
    var reps = repsOfPair[p] || [];
    details.appendChild(el("h3", { text: "Representative flows" }));
    if (reps.length) details.appendChild(repTable(reps.map(function (x) { return x[2]; })));
    else details.appendChild(el("p", { cls: "warn", text: "No representative kept (the report keeps " + fmt(D.limits.repsMax) + "); trace one of these flows with vnetsim trace." }));
  }
  function repTable(ids) {
    return table(["port", "outcome", "deciding rule", "source seen", ""], ids.map(function (id) {
      var f = D.reps[id];
      if (!f) return tr(["(not kept)"]);
      var row = tr([el("td", { cls: "mono", text: f.protocol.toLowerCase() + "/" + f.dstPort }), outcomeCell(f.outcome), el("td", { cls: "mono", text: f.rule || "" }), el("td", { cls: "mono", text: f.srcSeen || "" }), "trace \u25B8"],
        function () { location.hash = "rep=" + id; });
      row.dataset.rep = String(id);
      return row;
    }), [0, 0, 0, 0, 0]);
  }
  function showRep(id) {
    var f = D.reps[id];
    var box = document.getElementById("trace");
    if (box) box.remove();
    box = el("div", { cls: "trace", id: "trace" });
    if (!f) { box.appendChild(el("p", { text: "This flow was not kept." })); details.appendChild(box); return; }
    box.appendChild(el("h3", { text: "Trace: " + f.src + ":" + f.srcPort + " \u2192 " + f.dst + ":" + f.dstPort + " " + f.protocol.toLowerCase() }));
    box.appendChild(table([], [
      tr([el("td", { text: "outcome" }), outcomeCell(f.outcome)]),
      tr(["reason", f.reason]), tr(["deciding rule", f.rule || "(none)"]),
      tr(["entered at", f.ingress]), tr(["delivered to", f.deliveredTo || ""]), tr(["dropped at", f.droppedAt || ""]),
      tr(["source seen", f.srcSeen || ""]), tr(["destination seen", f.dstSeen || ""]),
      tr(["name (SNI/Host)", f.fqdn || ""]), tr(["reply crosses every stateful hop", f.symmetric ? "yes" : "no"])
    ].filter(function (r) { return r.lastChild.textContent !== ""; })));
    box.firstChild.nextSibling.className = "kv";
    var hops = function (p) { return p ? p.split(" > ") : []; };
    box.appendChild(el("div", { text: "request path" }));
    box.appendChild(el("ol", { id: "trace-path" }, hops(f.path).map(function (h) { return el("li", { text: h }); })));
    if (f.returnPath) {
      box.appendChild(el("div", { text: "reply path" }));
      box.appendChild(el("ol", { id: "trace-return" }, hops(f.returnPath).map(function (h) { return el("li", { text: h }); })));
    }
    details.appendChild(box);
  }
  function renderChanges(ch) {
    app.appendChild(el("h2", { text: "Changes, grouped by cause (" + fmt(ch.changed) + " flows)" }));
    app.appendChild(el("p", { cls: "notes", text: "A change's cause is the resource holding the rule that decides it on the new side (or the old side when the new side has none), or, when the deciding rule is the same, the hop where the two paths part." }));
    app.appendChild(table(["cause", "flows", "transitions", "examples"], ch.causes.map(function (c) {
      var t = Object.keys(c.transitions).map(function (k) { return k + ": " + fmt(c.transitions[k]); }).join("; ");
      var ex = el("details", {}, [el("summary", { text: c.examples.length + " example" + (c.examples.length === 1 ? "" : "s") }),
        table(["flow", "old", "new"], c.examples.map(function (e) {
          var any = e[1] || e[0];
          var side = function (r) { return r ? r.outcome + (r.rule ? " (" + r.rule + ")" : "") + " via " + r.path : "absent"; };
          return tr([el("td", { cls: "mono", text: any.src + " \u2192 " + any.dst + " " + any.protocol.toLowerCase() + "/" + any.dstPort }), el("td", { cls: "mono", text: side(e[0]) }), el("td", { cls: "mono", text: side(e[1]) })]);
        }))]);
      return tr([el("td", { cls: "mono", text: c.cause }), c.flows, t, el("td", {}, [ex])]);
    }), [0, 1, 0, 0]));
  }

  function renderTables() {
  if (D.changes) renderChanges(D.changes);

  app.appendChild(el("h2", { text: "Deciding rules, by the resource holding them" }));
  app.appendChild(table(["resource", "flows", "reachable", "unreachable", "no-return", "rules"],
    S.ruleGroups.map(function (g) {
      var d = el("details", {}, [el("summary", { text: g.rules.length + " rule" + (g.rules.length === 1 ? "" : "s") }),
        table(["rule", "flows", "reachable", "unreachable", "no-return"], g.rules.map(function (r) {
          return tr([el("td", { cls: "mono", text: r.rule }), r.flows, r.reachable, r.unreachable, r.noReturn]);
        }), [0, 1, 1, 1, 1])]);
      return tr([el("td", { cls: "mono", text: g.resource }), g.flows, g.reachable, g.unreachable, g.noReturn, el("td", {}, [d])]);
    }), [0, 1, 1, 1, 1, 0]));

  app.appendChild(el("h2", { text: "Drop points, by VNet or kind" }));
  app.appendChild(table(["where", "flows", "points"], S.dropGroups.map(function (g) {
    var d = el("details", {}, [el("summary", { text: g.points.length + " point" + (g.points.length === 1 ? "" : "s") }),
      table(["dropped at", "flows"], g.points.map(function (p) { return tr([el("td", { cls: "mono", text: p.point }), p.flows]); }), [0, 1])]);
    return tr([el("td", { cls: "mono", text: g.group }), g.flows, el("td", {}, [d])]);
  }), [0, 1, 0]));
  if (S.srcRewritten && S.srcRewritten.flows) {
    app.appendChild(el("h2", { text: "Sources rewritten" }));
    app.appendChild(table(["seen as", "flows"], S.srcRewritten.seenAs.map(function (c) { return tr([el("td", { cls: "mono", text: c.srcSeen }), c.flows]); }), [0, 1]));
  }

  }
  renderTables();

  function route() {
    var h = decodeURIComponent(location.hash.replace(/^#/, ""));
    var m;
    if (routeSection(h)) return;
    if ((m = /^cell=(\d+),(\d+)$/.exec(h))) showCell(Number(m[1]), Number(m[2]));
    else if ((m = /^pair=(\d+)$/.exec(h))) showPair(Number(m[1]));
    else if ((m = /^rep=(\d+)$/.exec(h))) {
      if (!document.getElementById("cell-title") && !document.getElementById("pair-title")) {
        var host = D.pairReps.filter(function (x) { return x[2] === Number(m[1]); })[0];
        if (host) showPair(host[0]);
      }
      showRep(Number(m[1]));
    }
  }
  window.addEventListener("hashchange", route);
  route();
  ready();
})();
