// The export job page's progress bar: polls the job's JSON status and reloads when it ends.
// A static file (the CSP allows scripts from our own origin only); without it the page refreshes itself.
(function () {
  "use strict";
  var box = document.getElementById("job-progress");
  if (!box || !window.fetch) { return; }
  var url = box.getAttribute("data-status-url");
  var bar = document.getElementById("job-progress-bar");
  var step = document.getElementById("job-progress-step");
  var status = document.getElementById("job-status");
  var poll = function () {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (s) {
        bar.value = s.percent;
        bar.textContent = s.percent + "%";
        if (status) {
          status.textContent = s.status_label;
          status.className = "status status-" + s.status;
        }
        step.textContent = s.total ? s.step + " (" + s.done + " of " + s.total + ")" : (s.step || s.status_label);
        if (s.finished) { window.location.reload(); } else { window.setTimeout(poll, 1500); }
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  };
  window.setTimeout(poll, 1000);
})();
