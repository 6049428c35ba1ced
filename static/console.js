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
})();
