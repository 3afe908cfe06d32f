// A run's page: the text of every streaming row comes as {"append": [[element id, text], ...]}
// frames (HTML fragments are swapped by htmx as usual). Appended as text nodes, so nothing a
// model writes is parsed as markup, and at most once per animation frame whatever the number
// of rows streaming: the grid is never redrawn per chunk.
(function () {
  "use strict";
  var queued = [];
  var scheduled = false;

  function apply() {
    scheduled = false;
    var frames = queued;
    queued = [];
    for (var f = 0; f < frames.length; f++) {
      var appends = frames[f];
      for (var i = 0; i < appends.length; i++) {
        var target = document.getElementById(appends[i][0]);
        if (!target) continue; // the row has ended and its cell was redrawn whole
        target.append(appends[i][1]);
        var folded = target.closest("details[hidden]");
        if (folded) folded.hidden = false;
      }
    }
  }

  document.addEventListener("htmx:wsBeforeMessage", function (event) {
    var message = event.detail.message;
    if (typeof message !== "string") return;
    if (message.charAt(0) !== "{") {
      // The HTML fragments hold table rows out of band, each inside a <template> (alone, the
      // parser would drop a <tr>). The ws extension swaps only its message's top-level
      // elements, so the fragment goes through htmx's own swap, which unwraps templates.
      event.preventDefault();
      htmx.swap(document.body, message, { swapStyle: "none" });
      return;
    }
    event.preventDefault();
    queued.push(JSON.parse(message).append || []);
    if (!scheduled) {
      scheduled = true;
      requestAnimationFrame(apply);
    }
  });
})();
