/* The console's live state: one poll per page, a bar when it stops working, focus kept on the
   row an operator acted on. Loaded after htmx; no build step. */
(function () {
  "use strict";

  document.documentElement.classList.remove("no-js");
  document.documentElement.classList.add("js");

  /* The phone's compact menu: the Menu button opens and closes the whole navigation. */
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest && event.target.closest(".menu-toggle");
    if (!toggle) return;
    var menu = document.getElementById(toggle.getAttribute("aria-controls"));
    var open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    menu.classList.toggle("is-open", open);
  });

  var failures = 0;
  var lastUpdate = new Date();

  function clock(date) {
    return date.toISOString().slice(11, 19) + " UTC";
  }

  function isPoll(elt) {
    return Boolean(elt && elt.hasAttribute && elt.hasAttribute("data-live-poll"));
  }

  function showPaused(paused) {
    var bar = document.getElementById("live-status");
    if (!bar) return;
    if (paused) {
      var time = bar.querySelector("[data-last-update]");
      time.textContent = clock(lastUpdate);
      time.setAttribute("datetime", lastUpdate.toISOString());
    }
    bar.hidden = !paused;
  }

  window.consoleLive = {
    /* What the page's poll asks for: each card on the page with its own filters, and the
       banner or the counters strip when the page shows one. */
    params: function () {
      var values = {};
      var slugs = [];
      document.querySelectorAll("[data-live-card]").forEach(function (card) {
        slugs.push(card.dataset.liveCard);
        if (card.dataset.liveQuery) values["q-" + card.dataset.liveCard] = card.dataset.liveQuery;
      });
      values.cards = slugs.join(",");
      if (document.getElementById("health-banner")) {
        values.banner = "1";
      } else if (document.getElementById("summary-counters")) {
        values.counters = "1";
      }
      return values;
    },
  };

  /* Two failed polls in a row (server gone, error answer) show the bar; a good one clears it. */
  document.addEventListener("htmx:afterRequest", function (event) {
    if (!isPoll(event.detail.elt)) return;
    if (event.detail.successful === true) {
      failures = 0;
      lastUpdate = new Date();
      showPaused(false);
    } else {
      failures += 1;
      if (failures >= 2) showPaused(true);
    }
  });

  /* A poll does not replace the card an operator is working in (typing a filter, choosing a
     silence): that card catches up on the next poll after focus leaves it. */
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var target = event.detail.target;
    if (target && target.contains(document.activeElement) && document.activeElement !== document.body) {
      event.preventDefault();
    }
  });

  /* After an action's swap, focus goes back to the row acted on (or its card), not <body>. */
  document.addEventListener("htmx:afterSettle", function (event) {
    var focusId = event.detail.xhr && event.detail.xhr.getResponseHeader("X-Console-Focus");
    if (!focusId) return;
    var row = document.getElementById(focusId) || event.detail.target;
    if (row && row.focus) {
      if (!row.hasAttribute("tabindex")) row.setAttribute("tabindex", "-1");
      row.focus();
    }
  });

  /* Charts: uPlot (static/vendor/uplot) draws each [data-chart] from the JSON script its
     data-source names; a swapped-in card draws its own. Colours match the console's CSS. */
  var COLOURS = { runs: "#5b7fd9", failures: "#c5352b", p50: "#1f5fa8", p95: "#8a5a00", ok: "#1d7a46" };

  function chartData(elt) {
    var source = document.getElementById(elt.dataset.source);
    return source ? JSON.parse(source.textContent) : null;
  }

  function chartOptions(kind, width) {
    var axes = [
      { stroke: "#4b5565", grid: { stroke: "#eef0f4" }, ticks: { stroke: "#dfe3ea" } },
      { stroke: "#4b5565", grid: { stroke: "#eef0f4" }, ticks: { stroke: "#dfe3ea" } },
    ];
    var common = { width: width, height: 170, tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); }, axes: axes, legend: { show: false }, cursor: { points: { size: 6 } } };
    if (kind === "runs") {
      common.series = [{}, { label: "runs", stroke: COLOURS.runs, fill: "rgba(91,127,217,0.15)", width: 2 }, { label: "failures", stroke: COLOURS.failures, fill: "rgba(197,53,43,0.15)", width: 2 }];
    } else {
      common.series = [{}, { label: "p50 ms", stroke: COLOURS.p50, width: 2, spanGaps: true }, { label: "p95 ms", stroke: COLOURS.p95, width: 2, dash: [6, 4], spanGaps: true }];
    }
    return common;
  }

  function drawChart(elt) {
    if (elt.dataset.drawn || typeof uPlot === "undefined") return;
    var data = chartData(elt);
    if (!data) return;
    elt.dataset.drawn = "1";
    if (elt.dataset.chart === "sparkline") {
      new uPlot({ width: 120, height: 28, legend: { show: false }, cursor: { show: false }, axes: [{ show: false }, { show: false }],
        scales: { x: { time: false }, y: { range: [0, 1] } }, series: [{}, { stroke: COLOURS.ok, width: 1.5, spanGaps: true, points: { show: false } }] },
        [data.times, data.success], elt);
      return;
    }
    var target = elt.querySelector(".chart-canvas");
    var width = Math.max(240, Math.floor(target.getBoundingClientRect().width || elt.getBoundingClientRect().width));
    var columns = elt.dataset.chart === "runs" ? [data.times, data.runs, data.failures] : [data.times, data.p50, data.p95];
    new uPlot(chartOptions(elt.dataset.chart, width), columns, target);
  }

  function drawCharts(root) {
    if (root.matches && root.matches("[data-chart]")) drawChart(root);
    if (root.querySelectorAll) root.querySelectorAll("[data-chart]").forEach(drawChart);
  }

  document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
  document.addEventListener("htmx:load", function (event) { drawCharts(event.detail.elt); });
  document.addEventListener("htmx:oobAfterSwap", function (event) { drawCharts(event.detail.target); });
  document.addEventListener("htmx:afterSettle", function (event) { drawCharts(event.detail.elt); });
})();
