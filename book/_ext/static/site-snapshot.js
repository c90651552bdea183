// Explorers that compute in Python only (their saved widget has the class cnncourse-needs-kernel:
// a trained model or torch behind them) cannot follow their controls on this
// static page. Once the widget manager draws them, each gets a "static snapshot" badge and its
// controls are disabled, so no control on the site moves without its output following. The
// other explorers are anywidgets that compute in the page and are left alone.
(function () {
  var BADGE =
    "Static snapshot: this explorer computes with Python. Its controls work when you run the " +
    "chapter in JupyterLab (or with the launch buttons, when the site has them).";

  function freeze(explorer) {
    if (explorer.dataset.cnncourseSnapshot) return;
    explorer.dataset.cnncourseSnapshot = "1";
    var badge = document.createElement("p");
    badge.className = "cnncourse-snapshot-badge";
    badge.setAttribute("role", "note");
    badge.textContent = BADGE;
    explorer.insertBefore(badge, explorer.firstChild);
    disable(explorer);
  }

  function disable(explorer) {
    explorer.querySelectorAll("input, select, button, textarea").forEach(function (el) {
      el.disabled = true;
      el.setAttribute("aria-disabled", "true");
    });
    // noUiSlider handles (ipywidgets sliders) are focusable divs: take them out of reach too.
    explorer.querySelectorAll(".noUi-target").forEach(function (el) {
      el.setAttribute("disabled", "true");
    });
    explorer.querySelectorAll(".noUi-handle").forEach(function (el) {
      el.setAttribute("tabindex", "-1");
      el.setAttribute("aria-disabled", "true");
    });
    // a slider's readout is an editable div: typing there would move the slider too
    explorer.querySelectorAll("[contenteditable]").forEach(function (el) {
      el.setAttribute("contenteditable", "false");
      el.setAttribute("tabindex", "-1");
    });
  }

  var pending = false;
  function all() {
    pending = false;
    document.querySelectorAll(".cnncourse-needs-kernel").forEach(function (explorer) {
      freeze(explorer);
      disable(explorer); // controls a later render added (a family's extra slider, say)
    });
  }
  new MutationObserver(function () {
    if (pending) return;
    pending = true;
    window.requestAnimationFrame(all);
  }).observe(document.documentElement, { childList: true, subtree: true });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", all);
  else all();
})();
