// Accessible names the page's own code leaves out, fixed on the page as it renders:
// - saved-widget controls: the ipywidgets HTML manager draws each control's description as a
//   separate, unassociated (or hidden) <label>, and icon-only buttons (Play, Stop, Repeat) with
//   no text, so screen readers announce them unnamed. Once the widgets render (widget-loader.js
//   loads them after the page), every unnamed control is named from its visible label, every
//   unlabelled widget image from its widget, and scrollable widget boxes become focusable;
// - the theme's icon buttons: Font Awesome turns each icon's title into SVG text, which then
//   contradicts the button's own label ("Color mode" reading "Light Dark System Settings"), and
//   the search button's label omits its visible "Ctrl+K".
(function () {
  var ICONS = { "fa-play": "Play", "fa-pause": "Pause", "fa-stop": "Stop", "fa-repeat": "Repeat",
    "fa-retweet": "Repeat" };

  function text(el) { return el ? (el.textContent || "").replace(/\s+/g, " ").trim() : ""; }

  function rowLabel(control) {
    var row = control.closest(".widget-inline-hbox, .widget-inline-vbox, .widget-box");
    var label = row && row.querySelector(":scope > .widget-label");
    return text(label) || (row && row.getAttribute("title")) || "";
  }

  // The widget a control belongs to, in words: cnncourse-kernel-grid -> "kernel grid".
  function widgetName(el) {
    for (var a = el; a; a = a.parentElement) {
      var c = Array.prototype.find.call(a.classList || [], function (k) {
        return k.indexOf("cnncourse-") === 0;
      });
      if (c) return c.replace("cnncourse-", "").replace(/-/g, " ");
    }
    return "";
  }

  // An unlabelled input in a grid of inputs (the kernel explorer's cells): "row r, column c".
  function gridCell(el) {
    var grid = el.closest(".widget-gridbox");
    if (!grid) return widgetName(el);
    var cols = getComputedStyle(grid).gridTemplateColumns.split(" ").length || 1;
    var cells = Array.prototype.slice.call(grid.querySelectorAll("input"));
    var i = cells.indexOf(el);
    var where = "row " + (Math.floor(i / cols) + 1) + ", column " + ((i % cols) + 1);
    return (widgetName(grid) || "grid") + " " + where;
  }

  function visible(el) { return el && el.getClientRects().length > 0; }

  function named(el) {
    return el.hasAttribute("aria-label") || el.hasAttribute("aria-labelledby") ||
      (el.labels && el.labels.length && visible(el.labels[0]) && text(el.labels[0]));
  }

  function fix(root) {
    root.querySelectorAll(".jupyter-widgets input, .jupyter-widgets select, " +
      ".jupyter-widgets textarea, .jupyter-widgets [role=slider]").forEach(function (el) {
      var hidden = "";
      Array.prototype.forEach.call(el.labels || [], function (label) {
        // A hidden <label for> (an empty description) names nothing: detach it.
        if (!visible(label)) {
          hidden = hidden || text(label);
          label.removeAttribute("for");
        }
      });
      if (named(el)) return;
      var name = rowLabel(el) || hidden || el.getAttribute("title") ||
        el.getAttribute("placeholder");
      if (!name) name = gridCell(el);
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

  function fixIconButtons(root) {
    root.querySelectorAll("button[aria-label]").forEach(function (b) {
      if (b.closest(".jupyter-widgets, .cell_output")) return;  // the theme's buttons only
      b.querySelectorAll("svg, i").forEach(function (icon) {
        icon.setAttribute("aria-hidden", "true");
        icon.removeAttribute("aria-labelledby");
        icon.querySelectorAll("title").forEach(function (t) { t.remove(); });
      });
      var shown = (b.innerText || "").replace(/\s+/g, " ").trim();
      var label = b.getAttribute("aria-label");
      if (shown && label.toLowerCase().indexOf(shown.toLowerCase()) < 0) {
        b.setAttribute("aria-label", shown);
      }
    });
  }

  function focusableScrollBoxes(root) {
    root.querySelectorAll(".jupyter-widgets.widget-box, .jupyter-widgets .widget-box")
      .forEach(function (box) {
        var style = getComputedStyle(box);
        var scrolls = /(auto|scroll)/.test(style.overflowX + style.overflowY) &&
          (box.scrollHeight > box.clientHeight || box.scrollWidth > box.clientWidth);
        if (scrolls && !box.hasAttribute("tabindex") &&
            !box.querySelector("a[href], button, input, select, textarea, [tabindex]")) {
          box.setAttribute("tabindex", "0");
        }
      });
  }

  var pending = false;
  var observer = new MutationObserver(function () {
    if (pending) return;
    pending = true;
    window.requestAnimationFrame(function () { pending = false; all(); });
  });
  function all() {
    observer.disconnect();
    fix(document);
    fixIconButtons(document);
    focusableScrollBoxes(document);
    observer.observe(document.body, { childList: true, subtree: true });
  }
  function start() {
    all();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
