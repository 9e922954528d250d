// The page at /audit/: a filterable table and two charts (events per day, per country), drawn as SVG by a
// small script with no dependencies. The page itself holds no data; everything comes from GET /audit and
// GET /audit/summary with the same bearer token, which the operator types once (kept for the tab only).
// Data is put in the page with textContent, never as HTML.

export const AUDIT_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Audit log · xmppkit</title>
<style>
  :root { font: 14px/1.4 system-ui, sans-serif; color: #1d2433; background: #f6f7f9; }
  body { margin: 0 auto; max-width: 1200px; padding: 16px 24px; }
  h1 { font-size: 20px; margin: 0 0 12px; }
  h2 { font-size: 14px; margin: 0 0 8px; color: #4a5568; font-weight: 600; }
  form { display: flex; flex-wrap: wrap; gap: 8px; align-items: end; margin-bottom: 12px; }
  label { display: flex; flex-direction: column; font-size: 12px; color: #4a5568; gap: 2px; }
  input, select, button { font: inherit; padding: 4px 8px; border: 1px solid #c5cbd6; border-radius: 4px; background: #fff; }
  button { background: #2b6cb0; color: #fff; border-color: #2b6cb0; cursor: pointer; }
  button.secondary { background: #fff; color: #2b6cb0; }
  .panels { display: grid; grid-template-columns: 2fr 1fr; gap: 12px; margin-bottom: 12px; }
  .panel { background: #fff; border: 1px solid #e2e6ee; border-radius: 6px; padding: 12px; }
  svg text { font-size: 11px; fill: #4a5568; }
  svg .bar { fill: #3182ce; }
  table { width: 100%; border-collapse: collapse; background: #fff; border: 1px solid #e2e6ee; }
  th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #edf0f5; vertical-align: top; }
  th { background: #eef1f6; font-weight: 600; font-size: 12px; }
  td.time { white-space: nowrap; font-variant-numeric: tabular-nums; }
  td.type { white-space: nowrap; }
  #status { min-height: 1.4em; color: #4a5568; margin: 4px 0 8px; }
  #status.error { color: #c53030; }
  .empty { color: #718096; font-style: italic; }
</style>
</head>
<body>
<h1>Audit log</h1>
<form id="auth">
  <label>Token <input id="token" type="password" autocomplete="current-password" placeholder="http.token"></label>
  <button type="submit" class="secondary">Use token</button>
</form>
<form id="filters">
  <label>User <input name="user" placeholder="alice@example.org"></label>
  <label>Type <input name="type" placeholder="session-available,http-request" size="28"></label>
  <label>Country <input name="country" placeholder="GB" size="4" maxlength="2"></label>
  <label>Since <select name="since"><option value="1d">1 day</option><option value="7d" selected>7 days</option><option value="28d">28 days</option><option value="">everything</option></select></label>
  <button type="submit">Show</button>
</form>
<div id="status" role="status"></div>
<div class="panels">
  <div class="panel"><h2>Events per day</h2><svg id="chart-day" width="100%" height="160" role="img" aria-label="Events per day"></svg></div>
  <div class="panel"><h2>Events per country</h2><svg id="chart-country" width="100%" height="160" role="img" aria-label="Events per country"></svg></div>
</div>
<table id="events">
  <thead><tr><th>Date</th><th>Event</th><th>Source</th><th>User</th><th>IP</th><th>Location</th><th>Note</th></tr></thead>
  <tbody></tbody>
</table>
<p><button id="more" class="secondary" hidden>Older events</button></p>
<script src="app.js"></script>
</body>
</html>
`;

export const AUDIT_PAGE_JS = `"use strict";
(function () {
  var SVG = "http://www.w3.org/2000/svg";
  // Relative to the page (/audit/), so the page also works behind a reverse proxy under a sub-path.
  var EVENTS = new URL("../audit", location.href).pathname, SUMMARY = new URL("summary", location.href).pathname;
  var tokenInput = document.getElementById("token");
  var filters = document.getElementById("filters");
  var status = document.getElementById("status");
  var tbody = document.querySelector("#events tbody");
  var more = document.getElementById("more");
  var next = null;
  tokenInput.value = sessionStorage.getItem("xmppkit-audit-token") || "";

  function say(text, isError) { status.textContent = text; status.className = isError ? "error" : ""; }
  function params(extra) {
    var p = new URLSearchParams();
    new FormData(filters).forEach(function (v, k) { if (String(v).trim()) p.set(k, String(v).trim()); });
    Object.keys(extra || {}).forEach(function (k) { p.set(k, extra[k]); });
    return p;
  }
  function get(path, p) {
    var headers = {};
    if (tokenInput.value) headers.Authorization = "Bearer " + tokenInput.value;
    return fetch(path + "?" + p.toString(), { headers: headers }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (r.status === 401) throw new Error("the token was refused: type the gateway's http.token above");
        if (!r.ok) throw new Error(body.message || ("HTTP " + r.status));
        return body;
      });
    });
  }
  function pad(n) { return String(n).padStart(2, "0"); }
  function local(iso) { var d = new Date(iso); return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()); }
  function cell(tr, text, cls) { var td = document.createElement("td"); td.textContent = text || ""; if (cls) td.className = cls; tr.appendChild(td); return td; }
  function addRows(events) {
    events.forEach(function (e) {
      var tr = document.createElement("tr");
      cell(tr, local(e.time), "time");
      cell(tr, e.type, "type");
      cell(tr, e.module);
      cell(tr, e.user ? (e.resource ? e.user + "/" + e.resource : e.user) : (e.actor !== e.ip ? e.actor : ""));
      cell(tr, e.ip);
      var loc = cell(tr, e.location ? e.location.countryCode : "");
      if (e.location) loc.title = e.location.countryName;
      cell(tr, e.note);
      tbody.appendChild(tr);
    });
  }
  function svgEl(name, attrs, text) {
    var el = document.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (k) { el.setAttribute(k, attrs[k]); });
    if (text !== undefined) el.textContent = text;
    return el;
  }
  function clear(svg) { while (svg.firstChild) svg.removeChild(svg.firstChild); }
  function drawDays(svg, perDay) {
    clear(svg);
    var w = svg.clientWidth || 600, h = 160, top = 10, bottom = 24;
    if (!perDay.length) { svg.appendChild(svgEl("text", { x: 8, y: 20, class: "empty" }, "no events")); return; }
    var max = Math.max.apply(null, perDay.map(function (d) { return d.count; }));
    var bw = Math.max(4, Math.min(40, (w - 20) / perDay.length - 4));
    perDay.forEach(function (d, i) {
      var bh = Math.max(1, (h - top - bottom) * d.count / max);
      var x = 10 + i * (bw + 4);
      var bar = svgEl("rect", { class: "bar", x: x, y: h - bottom - bh, width: bw, height: bh, "data-day": d.day, "data-count": d.count });
      bar.appendChild(svgEl("title", {}, d.day + ": " + d.count));
      svg.appendChild(bar);
      if (perDay.length <= 14 || i % Math.ceil(perDay.length / 14) === 0) svg.appendChild(svgEl("text", { x: x, y: h - 8 }, d.day.slice(5)));
    });
    svg.appendChild(svgEl("text", { x: w - 8, y: 12, "text-anchor": "end" }, "max " + max));
  }
  function drawCountries(svg, perCountry) {
    clear(svg);
    var w = svg.clientWidth || 300, rows = perCountry.slice(0, 8);
    if (!rows.length) { svg.appendChild(svgEl("text", { x: 8, y: 20, class: "empty" }, "no located events")); return; }
    var max = rows[0].count;
    rows.forEach(function (c, i) {
      var y = 6 + i * 19;
      svg.appendChild(svgEl("text", { x: 4, y: y + 12 }, c.country));
      var bar = svgEl("rect", { class: "bar", x: 32, y: y, width: Math.max(2, (w - 90) * c.count / max), height: 14, "data-country": c.country, "data-count": c.count });
      bar.appendChild(svgEl("title", {}, c.name + ": " + c.count));
      svg.appendChild(bar);
      svg.appendChild(svgEl("text", { x: 36 + Math.max(2, (w - 90) * c.count / max), y: y + 12 }, String(c.count)));
    });
  }
  function load() {
    say("loading…");
    tbody.textContent = "";
    next = null;
    return Promise.all([get(EVENTS, params({ limit: "100" })), get(SUMMARY, params())]).then(function (r) {
      addRows(r[0].events);
      next = r[0].next || null;
      more.hidden = !next;
      drawDays(document.getElementById("chart-day"), r[1].perDay);
      drawCountries(document.getElementById("chart-country"), r[1].perCountry);
      say(r[1].total + " event" + (r[1].total === 1 ? "" : "s") + " match; newest first");
      document.body.setAttribute("data-loaded", "true");
    }).catch(function (err) { say(err.message, true); document.body.setAttribute("data-loaded", "error"); });
  }
  more.addEventListener("click", function () {
    if (!next) return;
    get(EVENTS, params({ limit: "100", cursor: next })).then(function (page) {
      addRows(page.events);
      next = page.next || null;
      more.hidden = !next;
    }).catch(function (err) { say(err.message, true); });
  });
  document.getElementById("auth").addEventListener("submit", function (ev) {
    ev.preventDefault();
    sessionStorage.setItem("xmppkit-audit-token", tokenInput.value);
    load();
  });
  filters.addEventListener("submit", function (ev) { ev.preventDefault(); load(); });
  load();
})();
`;
