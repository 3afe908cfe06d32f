// Small behaviours htmx does not cover: keys, socket state, streamed text and its pace,
// collapsing reasoning, Copy buttons, sliders beside number boxes, the colour scheme.
(function () {
  "use strict";

  function composer() { return document.getElementById("composer"); }

  function busy() {
    var buttons = document.getElementById("composer-buttons");
    return buttons && buttons.dataset.busy === "true";
  }

  // Enter (or Ctrl/Cmd+Enter) sends, Shift+Enter adds a line; IME composition (Japanese,
  // Chinese…) is left alone. Esc stops the answer that is arriving, from anywhere on the page.
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.key === "Escape" && busy()) {
      var stop = document.getElementById("stop-button");
      if (stop && !stop.disabled) stop.click();
      return;
    }
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
  document.addEventListener("htmx:wsOpen", function (event) {
    setSocketState("open", "Connected");
    // An answer shown streaming may have ended while no socket was open (a reload, a lost
    // connection): ask how it stands. One still streaming is sent by the server anyway.
    var streaming = document.querySelector("article.message--streaming[data-pk]");
    if (streaming) event.detail.socketWrapper.send(JSON.stringify({ action: "rejoin", answer: streaming.dataset.pk }));
  });
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
    var frame = JSON.parse(message);
    var appends = frame.append || [];
    for (var i = 0; i < appends.length; i++) {
      var target = document.getElementById(appends[i][0]);
      if (target) target.append(appends[i][1]);
    }
    if (appends.length) counted(appends[0][0], frame.n || 0);
    scrollSoon();
  });

  // While an answer streams: the time since it was asked for and its pace so far.
  var pace = null;
  function counted(elementId, deltas) {
    var article = document.getElementById(elementId) && document.getElementById(elementId).closest("article");
    if (!pace || pace.article !== article) return;
    if (pace.first === null) pace.first = performance.now();
    pace.deltas += deltas;
  }
  function showPace() {
    if (!pace || !pace.article.isConnected) { pace = null; return; }
    var seconds = (performance.now() - pace.started) / 1000;
    var text = seconds.toFixed(1) + " s";
    var since = pace.first === null ? 0 : (performance.now() - pace.first) / 1000;
    if (pace.deltas > 1 && since > 0.2) text += " · " + Math.round((pace.deltas - 1) / since) + " tokens/s so far";
    pace.line.textContent = text;
    setTimeout(showPace, 250);
  }
  document.addEventListener("htmx:load", function (event) {
    var line = event.detail.elt.querySelector && event.detail.elt.querySelector("[data-stream-stats]");
    if (!line) return;
    var running = pace !== null;
    pace = { article: line.closest("article"), line: line, started: performance.now(), first: null, deltas: 0 };
    if (!running) showPace();
  });

  // Copy buttons: data-copy names the element whose text is copied; code blocks of answers
  // get one each.
  function copy(button) {
    var source = button.dataset.copy ? document.getElementById(button.dataset.copy) : button.parentNode.querySelector("code");
    if (!source) return;
    var done = function () {
      button.dataset.label = button.dataset.label || button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = button.dataset.label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(source.textContent).then(done);
      return;
    }
    // Plain http on another host has no clipboard API: select the text and copy the old way.
    var wasHidden = source.hidden;
    source.hidden = false;
    var range = document.createRange();
    range.selectNodeContents(source);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    var copied = document.execCommand("copy");
    selection.removeAllRanges();
    source.hidden = wasHidden;
    if (copied) done();
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy], .copy-code");
    if (button) copy(button);
  });
  function addCodeButtons(root) {
    if (!root.querySelectorAll) return;
    root.querySelectorAll(".markdown pre").forEach(function (pre) {
      if (pre.querySelector(".copy-code") || !pre.querySelector("code")) return;
      var button = document.createElement("button");
      button.type = "button";
      button.className = "button small copy-code";
      button.textContent = "Copy code";
      pre.appendChild(button);
    });
  }

  // A slider beside a number box (temperature, top_p…): either one sets the other; the box
  // is what is saved, so moving the slider types into it.
  function sliderOf(box) { return box.id && document.querySelector('[data-slider-for="' + box.id + '"]'); }
  function syncSliders(root) {
    if (!root.querySelectorAll) return;
    root.querySelectorAll("[data-slider-for]").forEach(function (slider) {
      var box = document.getElementById(slider.dataset.sliderFor);
      var value = parseFloat(box.value !== "" ? box.value : (box.placeholder || "").replace(/^Unset: /, ""));
      if (!isNaN(value)) slider.value = value;
    });
  }
  document.addEventListener("input", function (event) {
    var target = event.target;
    if (target.dataset && target.dataset.sliderFor) {
      var box = document.getElementById(target.dataset.sliderFor);
      box.value = target.value;
      box.dispatchEvent(new Event("input", { bubbles: true }));
    } else if (sliderOf(target) && target.value !== "" && !isNaN(parseFloat(target.value))) {
      sliderOf(target).value = parseFloat(target.value);
    }
  });
  document.addEventListener("htmx:load", function (event) {
    addCodeButtons(event.detail.elt);
    syncSliders(event.detail.elt);
  });

  // Light or dark: the system's choice unless the person picked one here (kept by the browser;
  // theme.js applies it before the page is drawn).
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest && event.target.closest("#theme-toggle");
    if (!toggle) return;
    var dark = document.documentElement.dataset.theme
      ? document.documentElement.dataset.theme === "dark"
      : window.matchMedia("(prefers-color-scheme: dark)").matches;
    var next = dark ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    try { localStorage.setItem("hexplay-theme", next); } catch (e) { /* private mode */ }
    toggle.setAttribute("aria-pressed", next === "dark" ? "true" : "false");
  });
  document.addEventListener("DOMContentLoaded", function () {
    var toggle = document.getElementById("theme-toggle");
    if (!toggle) return;
    var dark = document.documentElement.dataset.theme
      ? document.documentElement.dataset.theme === "dark"
      : window.matchMedia("(prefers-color-scheme: dark)").matches;
    toggle.setAttribute("aria-pressed", dark ? "true" : "false");
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
