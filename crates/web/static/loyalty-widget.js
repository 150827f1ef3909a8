/* Regulars loyalty widget.

   On a shop's page, where the widget should appear:
     <script src="https://regulars.example/static/loyalty-widget.js"
             data-widget-url="https://regulars.example/loyalty/<store>/<token>/widget"></script>
   inserts the customer's widget in an iframe right after the script tag and keeps the frame
   as tall as its content. Optional: data-title (the frame's accessible name), data-max-width.

   Inside the widget itself (loaded with data-frame) it tells the embedding page its height. */
(function () {
  "use strict";
  var MESSAGE = "regulars-loyalty-height";
  var script = document.currentScript;
  if (!script) return;

  if (script.hasAttribute("data-frame")) {
    if (window.parent === window) return;
    var last = 0;
    var report = function () {
      var body = document.body;
      if (!body) return;
      var height = Math.ceil(body.getBoundingClientRect().height);
      if (height > 0 && height !== last) {
        last = height;
        // Only a number leaves the frame: no data of the customer's.
        window.parent.postMessage({ type: MESSAGE, height: height }, "*");
      }
    };
    if (window.ResizeObserver) new ResizeObserver(report).observe(document.body);
    window.addEventListener("load", report);
    window.addEventListener("resize", report);
    report();
    return;
  }

  var url = script.getAttribute("data-widget-url");
  if (!url) return;
  var src;
  try {
    src = new URL(url, document.baseURI);
  } catch (e) {
    return;
  }
  if (src.protocol !== "https:" && src.protocol !== "http:") return;

  var frame = document.createElement("iframe");
  frame.src = src.href;
  frame.title = script.getAttribute("data-title") || "Loyalty";
  frame.setAttribute("referrerpolicy", "no-referrer");
  frame.className = "regulars-loyalty-widget";
  frame.style.display = "block";
  frame.style.width = "100%";
  frame.style.maxWidth = script.getAttribute("data-max-width") || "28rem";
  frame.style.height = "260px";
  frame.style.border = "0";

  window.addEventListener("message", function (event) {
    // Trust only our own frame, speaking from the widget's origin.
    if (event.source !== frame.contentWindow || event.origin !== src.origin) return;
    var data = event.data;
    if (!data || data.type !== MESSAGE || typeof data.height !== "number") return;
    var height = Math.max(80, Math.min(4000, Math.ceil(data.height)));
    frame.style.height = height + "px";
  });

  script.parentNode.insertBefore(frame, script.nextSibling);
})();
