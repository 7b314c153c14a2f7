// Progressive enhancement only: every form works without this script.
(function () {
  "use strict";

  // Live eligibility on the screening form: the server's rules (trial/participants/eligibility.py),
  // asked through a small JSON endpoint, so the browser never holds a second copy of them.
  var screening = document.getElementById("screening-form");
  if (screening && window.fetch) {
    var url = screening.getAttribute("data-eligibility-url");
    var panel = document.getElementById("eligibility");
    var timer = null;
    var render = function (r) {
      var verdict = document.getElementById("eligibility-verdict");
      var failed = document.getElementById("eligibility-failed");
      var missing = document.getElementById("eligibility-missing");
      panel.className = "eligibility " + (r.eligible ? "eligible" : (r.failed.length ? "ineligible" : "undecided"));
      verdict.innerHTML = r.eligible ? "<strong>Eligible</strong>: every criterion is met."
        : (r.failed.length ? "<strong>Not eligible</strong>: the criteria below are not met."
          : "Not decided yet: some criteria are not answered.");
      failed.innerHTML = "";
      r.failed.forEach(function (c) {
        var li = document.createElement("li");
        li.textContent = c.text;
        li.setAttribute("data-code", c.code);
        failed.appendChild(li);
      });
      missing.textContent = r.missing.length ? "Still to answer: " + r.missing.length + " criteria." : "";
    };
    var check = function () {
      fetch(url, { method: "POST", body: new FormData(screening), credentials: "same-origin",
                   headers: { "X-Requested-With": "fetch" } })
        .then(function (resp) { return resp.ok ? resp.json() : null; })
        .then(function (r) { if (r) { render(r); } })
        .catch(function () { /* the Check eligibility button still works */ });
    };
    var schedule = function () { clearTimeout(timer); timer = setTimeout(check, 250); };
    screening.addEventListener("input", schedule);
    screening.addEventListener("change", schedule);
  }

  // HAM-D-17: a live total, and out-of-range items marked as the user types (the server decides on save).
  var hamd = document.querySelector("[data-hamd-total]");
  if (hamd) {
    var out = document.getElementById("hamd-total");
    var inputs = hamd.querySelectorAll("input[data-hamd-item]");
    var update = function () {
      var total = 0;
      inputs.forEach(function (input) {
        var v = parseInt(input.value, 10);
        var max = parseInt(input.getAttribute("max"), 10);
        var bad = input.value !== "" && (isNaN(v) || v < 0 || v > max);
        input.classList.toggle("out-of-range", bad);
        if (!isNaN(v) && !bad) { total += v; }
      });
      out.textContent = String(total);
    };
    hamd.addEventListener("input", update);
    update();
  }
})();

// Idle timeout warning. The server ends a session unused for data-idle-timeout seconds
// (trial.core.middleware.IdleTimeoutMiddleware); this warns data-idle-warning seconds before,
// offers to stay, and at the end goes to the login page so no clinical data stays on screen.
(function () {
  "use strict";
  var body = document.body;
  var timeout = parseInt(body.getAttribute("data-idle-timeout"), 10);
  var warning = parseInt(body.getAttribute("data-idle-warning"), 10);
  if (isNaN(timeout) || isNaN(warning)) { return; }
  var box = document.getElementById("idle-warning");
  var countdown = document.getElementById("idle-countdown");
  var stay = document.getElementById("idle-stay");
  var lastActivity = Date.now();
  var loginUrl = body.getAttribute("data-login-url");

  var leave = function () {
    window.location.assign(loginUrl + "?next=" + encodeURIComponent(window.location.pathname));
  };
  var tick = function () {
    var idle = (Date.now() - lastActivity) / 1000;
    if (idle >= timeout) { leave(); return; }
    if (idle >= timeout - warning) {
      countdown.textContent = String(Math.ceil(timeout - idle));
      box.hidden = false;
    }
  };
  var keepAlive = function () {
    var token = document.querySelector('meta[name="csrf-token"]');
    fetch(body.getAttribute("data-keepalive-url"), {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRFToken": token ? token.getAttribute("content") : "" }
    }).then(function (resp) {
      // 204 only: a session that already ended answers with the login page (a redirect, then 200).
      if (resp.status === 204) { lastActivity = Date.now(); box.hidden = true; } else { leave(); }
    }).catch(function () { /* the next tick decides */ });
  };
  if (stay) { stay.addEventListener("click", keepAlive); }
  // Only requests reach the server, so only they reset its clock; typing alone does not.
  document.addEventListener("submit", function () { lastActivity = Date.now(); });
  window.setInterval(tick, 1000);
})();

// The nav folds behind a Menu button on narrow screens (static/css/stratum.css); without this script
// the links wrap instead, so nothing is ever out of reach.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var toggle = document.querySelector(".nav-toggle");
  var bar = document.querySelector(".topbar");
  if (!toggle || !bar) { return; }
  toggle.hidden = false;
  toggle.addEventListener("click", function () {
    var open = bar.classList.toggle("nav-open");
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  });
})();

// "Print these forms" (the blank CRFs): a button, since the CSP forbids an inline onclick.
(function () {
  "use strict";
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
})();
