// The desk's only script (the Content-Security-Policy forbids inline script).
// htmx sends the session's CSRF token with every request it makes; copy buttons copy the
// text of their target with the Clipboard API, falling back to selecting it.
(function () {
  "use strict";
  function token() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }
  document.addEventListener("htmx:configRequest", function (evt) {
    evt.detail.headers["X-CSRF-Token"] = token();
  });
  document.addEventListener("click", function (evt) {
    var button = evt.target.closest("[data-copy-target]");
    if (!button) return;
    var target = document.getElementById(button.getAttribute("data-copy-target"));
    if (!target) return;
    var status = document.getElementById(button.getAttribute("data-copy-status") || "");
    var text = target.value !== undefined ? target.value : target.textContent;
    function done(message) { if (status) status.textContent = message; }
    function fallback() {
      if (target.select) { target.focus(); target.select(); }
      done("Selected: press Ctrl+C (⌘C) to copy.");
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { done("Copied."); }, fallback);
    } else {
      fallback();
    }
  });
})();
