// Small behaviours htmx does not cover: Enter to send, socket state, collapsing reasoning.
(function () {
  "use strict";

  function composer() { return document.getElementById("composer"); }

  function busy() {
    var buttons = document.getElementById("composer-buttons");
    return buttons && buttons.dataset.busy === "true";
  }

  // Enter sends, Shift+Enter adds a line; IME composition (Japanese, Chinese…) is left alone.
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (target.id !== "id_message" || event.key !== "Enter" || event.shiftKey || event.isComposing) return;
    event.preventDefault();
    if (!busy() && target.value.trim()) composer().requestSubmit();
  });

  // The box is cleared only once the server starts answering what was sent (it then marks the
  // composer busy). A refused Send (waiting tool calls, invalid options) or a socket that is
  // down leaves the text where it was, so nothing typed is lost.
  var sentText = null;
  document.addEventListener("htmx:wsAfterSend", function (event) {
    if (event.target.id === "composer") sentText = document.getElementById("id_message").value;
  });
  document.addEventListener("htmx:load", function (event) {
    var elt = event.detail.elt;
    if (elt.id !== "composer-buttons" || elt.dataset.busy !== "true" || sentText === null) return;
    var box = document.getElementById("id_message");
    // Text typed after the Send is the next message: keep it.
    if (box.value === sentText) box.value = "";
    sentText = null;
    // Focus left with the Send button, which is disabled now: back to the box for the next one.
    if (document.activeElement === document.body) box.focus();
  });

  // While an answer streams, Send stays disabled: a second message would be refused.
  document.addEventListener("htmx:wsConfigSend", function (event) {
    if (event.target.id === "composer" && busy()) event.preventDefault();
  });

  function setSocketState(state, text) {
    var status = document.getElementById("socket-status");
    if (!status) return;
    status.dataset.state = state;
    status.textContent = text;
  }
  document.addEventListener("htmx:wsOpen", function () { setSocketState("open", "Connected"); });
  document.addEventListener("htmx:wsClose", function () {
    setSocketState("closed", "Connection lost. Reconnecting… (messages you send wait until it is back)");
  });

  // Keep the newest text in view unless the reader scrolled up to read something earlier.
  // At most once per frame: reading scrollHeight forces a layout, and chunks come faster.
  var stickToBottom = true;
  var scrollPending = false;
  window.addEventListener("scroll", function () {
    stickToBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 80;
  }, { passive: true });
  function scrollSoon() {
    if (scrollPending || !stickToBottom) return;
    scrollPending = true;
    requestAnimationFrame(function () {
      scrollPending = false;
      window.scrollTo(0, document.body.scrollHeight);
    });
  }
  document.addEventListener("htmx:wsAfterMessage", scrollSoon);

  // The text of a streaming answer comes as {"append": [[element id, text], ...]} (HTML is
  // swapped by htmx as usual). Appended as text nodes: nothing from the model is parsed as
  // markup, and there is no fragment to parse and swap per chunk.
  document.addEventListener("htmx:wsBeforeMessage", function (event) {
    var message = event.detail.message;
    if (typeof message !== "string" || message.charAt(0) !== "{") return;
    event.preventDefault();
    var appends = JSON.parse(message).append || [];
    for (var i = 0; i < appends.length; i++) {
      var target = document.getElementById(appends[i][0]);
      if (target) target.append(appends[i][1]);
    }
    scrollSoon();
  });

  // The server marks the reasoning summary when the answer starts: fold the reasoning away then.
  document.addEventListener("htmx:load", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.matches && elt.matches("[data-collapse-reasoning]")) {
      var details = elt.closest("details");
      if (details) details.open = false;
    }
  });
})();
