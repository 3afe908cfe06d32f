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
    if (typeof message !== "string" || message.charAt(0) !== "{") return;
    event.preventDefault();
    queued.push(JSON.parse(message).append || []);
    if (!scheduled) {
      scheduled = true;
      requestAnimationFrame(apply);
    }
  });
})();
