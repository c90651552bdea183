// ipywidgets' HTML manager typesets widget labels through the MathJax 2 API
// (MathJax.Hub.Queue(["Typeset", MathJax.Hub, element])) whenever window.MathJax exists, and the
// site runs MathJax 3, which has no Hub: saved widgets then fail to render. This deferred
// script runs after MathJax 3 has installed itself and translates that one call.
(function () {
  var mj = window.MathJax;
  if (!mj || mj.Hub) return;
  mj.Hub = {
    Queue: function (job) {
      var element = job && job[2];
      if (element && mj.typesetPromise) {
        mj.typesetPromise([element]).catch(function (err) { console.warn(err); });
      }
    },
  };
})();
