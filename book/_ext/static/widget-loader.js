// Loads the saved-widget manager (the scripts jupyter-book.yml lists in nb_ipywidgets_js, in
// order: RequireJS, then the ipywidgets HTML manager, ...) only after the page has loaded, so
// that megabytes of widget code never delay the first paint. book/_ext/site_speed.py puts this
// file, deferred, on pages that carry widget state, and only there.
(function () {
  var me = document.currentScript;
  var scripts = JSON.parse(me.getAttribute("data-scripts") || "[]");
  // The listed paths are relative to _static/, where this file also lives.
  var base = me.src.replace(/[^/]*$/, "");
  function next(i) {
    if (i >= scripts.length) return;
    var s = document.createElement("script");
    s.src = base + scripts[i];
    s.onload = function () { next(i + 1); };
    s.onerror = function () { console.error("could not load " + s.src); };
    document.head.appendChild(s);
  }
  function start() { next(0); }
  if (document.readyState === "complete") start();
  else window.addEventListener("load", start);
})();
