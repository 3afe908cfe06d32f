// No htmx request fails silently: every page says why, and puts back what is really saved.
// htmx drops 4xx and 5xx answers and network errors by default; this is the one handler for them.
(function () {
  "use strict";

  var GENERIC = {
    403: "You are not allowed to do this, or your session has expired: reload the page and try again.",
    404: "This is no longer here (it may have been deleted): reload the page.",
    413: "That is too large to send.",
    429: "Too many requests at once: wait a moment and try again."
  };

  function plainText(xhr) {
    var type = xhr.getResponseHeader("Content-Type") || "";
    var text = (xhr.responseText || "").trim();
    // The server's own words when it wrote them for people; an HTML page is not shown raw.
    return type.indexOf("text/plain") === 0 && text ? text.slice(0, 500) : "";
  }

  function explain(xhr) {
    var status = xhr.status;
    var own = plainText(xhr);
    if (own) return own;
    if (GENERIC[status]) return GENERIC[status];
    if (status >= 500) return "The server failed (error " + status + "), so this was not saved. Try again in a moment.";
    return "The server refused this (error " + status + "), so it was not saved.";
  }

  function show(text) {
    var box = document.getElementById("request-error");
    if (!box) return;
    box.querySelector("[data-text]").textContent = text;
    box.hidden = false;
  }

  // What the server last accepted is each control's default (its value as drawn, or as last
  // saved): a refused choice goes back to it. Typed text is kept, so nothing written is lost.
  function controlsOf(elt) {
    if (!elt || !elt.matches) return [];
    if (elt.matches("select, input")) return [elt];
    return Array.prototype.slice.call(elt.querySelectorAll("select, input[type=checkbox], input[type=radio]"));
  }

  // back: the saved value goes back onto each control; otherwise what it shows becomes the saved one.
  function sync(elt, back) {
    controlsOf(elt).forEach(function (control) {
      var items = control.tagName === "SELECT" ? Array.prototype.slice.call(control.options) : [control];
      items.forEach(function (item) {
        var shown = item.tagName === "OPTION" ? "selected" : "checked";
        var saved = item.tagName === "OPTION" ? "defaultSelected" : "defaultChecked";
        if (back) item[shown] = item[saved];
        else item[saved] = item[shown];
      });
    });
  }

  document.addEventListener("htmx:responseError", function (event) {
    show(explain(event.detail.xhr));
    sync(event.detail.elt, true);
  });
  document.addEventListener("htmx:sendError", function (event) {
    show("The server could not be reached, so this was not saved. Check the connection and try again.");
    sync(event.detail.elt, true);
  });
  document.addEventListener("htmx:timeout", function (event) {
    show("The server took too long to answer, so this may not be saved. Try again.");
    sync(event.detail.elt, true);
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.successful) sync(event.detail.elt, false);
    // What the page shows of the next request (code view, token count) follows every saved
    // change. A named event, since hx-trigger's [filters] need eval, which the CSP forbids.
    // (A request htmx gave up on before sending has no requestConfig.)
    var config = event.detail.requestConfig;
    if (event.detail.successful && config && config.verb === "post") {
      var inOptions = Boolean(event.detail.elt.closest && event.detail.elt.closest("#request-options"));
      htmx.trigger(document.body, "hexplay:saved", { inOptions: inOptions });
      if (!inOptions) htmx.trigger(document.body, "hexplay:saved-elsewhere");
    }
  });

  document.addEventListener("click", function (event) {
    var close = event.target.closest("#request-error [data-dismiss]");
    if (close) close.closest("#request-error").hidden = true;
  });
  document.addEventListener("keydown", function (event) {
    var box = document.getElementById("request-error");
    if (event.key === "Escape" && box && !box.hidden) box.hidden = true;
  });
})();
