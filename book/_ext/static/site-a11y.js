// Accessible names for saved-widget controls. The ipywidgets HTML manager draws each control's
// description as a separate <label> that is not associated with the control, and icon-only
// buttons (Play, Stop, Repeat) with no text: screen readers announce them unnamed. Once the
// widgets render (book/_ext/static/widget-loader.js loads them after the page), this names every
// unnamed control from its visible label, and every unlabelled widget image from its widget.
(function () {
  var ICONS = { "fa-play": "Play", "fa-pause": "Pause", "fa-stop": "Stop", "fa-repeat": "Repeat",
    "fa-retweet": "Repeat" };

  function text(el) { return el ? (el.textContent || "").replace(/\s+/g, " ").trim() : ""; }

  function rowLabel(control) {
    var row = control.closest(".widget-inline-hbox, .widget-inline-vbox, .widget-box");
    var label = row && row.querySelector(":scope > .widget-label");
    return text(label) || (row && row.getAttribute("title")) || "";
  }

  function named(el) {
    return el.hasAttribute("aria-label") || el.hasAttribute("aria-labelledby") ||
      (el.labels && el.labels.length && text(el.labels[0]));
  }

  function fix(root) {
    root.querySelectorAll(".jupyter-widgets input, .jupyter-widgets select, " +
      ".jupyter-widgets textarea, .jupyter-widgets [role=slider]").forEach(function (el) {
      if (named(el)) return;
      var name = rowLabel(el) || el.getAttribute("title") || el.getAttribute("placeholder");
      if (name) el.setAttribute("aria-label", name);
    });
    root.querySelectorAll(".jupyter-widgets button").forEach(function (el) {
      if (text(el) || named(el)) return;
      var name = el.getAttribute("title");
      var icon = el.querySelector("i, svg");
      if (!name && icon) {
        var classes = (icon.getAttribute("class") || "") + " " + (icon.getAttribute("data-icon")
          ? "fa-" + icon.getAttribute("data-icon") : "");
        for (var k in ICONS) if (classes.indexOf(k) >= 0) { name = ICONS[k]; break; }
      }
      if (name) el.setAttribute("aria-label", name);
    });
    root.querySelectorAll(".jupyter-widgets img:not([alt])").forEach(function (el) {
      // The widgets' CSS classes read cnncourse-<widget>-<part>, e.g. cnncourse-kernel-output.
      var cls = Array.prototype.find.call(el.classList, function (c) {
        return c.indexOf("cnncourse-") === 0;
      });
      var box = el.closest("[class*=cnncourse-]");
      var from = cls || (box && Array.prototype.find.call(box.classList, function (c) {
        return c.indexOf("cnncourse-") === 0;
      }));
      el.setAttribute("alt", from ? from.replace("cnncourse-", "").replace(/-/g, " ") + " image"
        : "explorer image");
    });
  }

  var pending = false;
  var observer = new MutationObserver(function () {
    if (pending) return;
    pending = true;
    window.requestAnimationFrame(function () { pending = false; fix(document); });
  });
  function start() {
    fix(document);
    observer.observe(document.body, { childList: true, subtree: true });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
