// The fold buttons of narrow screens: each shows or hides the panel it controls.
// The CSS hides a panel while its button says aria-expanded="false" (playground.css), so the
// attribute is the only state; on wide screens the panels show whatever it says.
(function () {
  "use strict";

  function buttonFor(panel) {
    return document.querySelector('.folds__button[aria-controls="' + panel.id + '"]');
  }

  function setOpen(button, open) {
    button.setAttribute("aria-expanded", open ? "true" : "false");
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest(".folds__button");
    if (!button) return;
    var panel = document.getElementById(button.getAttribute("aria-controls"));
    var open = button.getAttribute("aria-expanded") !== "true";
    // Folding a long panel read halfway down would leave the page somewhere in the chat.
    var scrolledInto = !open && panel && panel.getBoundingClientRect().top < 0;
    setOpen(button, open);
    if (scrolledInto) document.querySelector(".chat").scrollIntoView({ block: "start" });
    // Read further down the chat, a panel opening above would open out of sight.
    var bar = button.closest(".folds");
    if (open && panel && panel.getBoundingClientRect().top < bar.getBoundingClientRect().bottom) {
      panel.scrollIntoView({ block: "start" });
    }
  });

  // Escape in an open panel folds it and takes focus back to its button: on phones the settings
  // show above the chat, but a browser without CSS reading-flow still tabs to them after it.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || event.defaultPrevented) return;
    var panel = event.target.closest && event.target.closest(".sidebar, .settings");
    var button = panel && buttonFor(panel);
    if (!button || button.getAttribute("aria-expanded") !== "true" || !button.offsetParent) return;
    setOpen(button, false);
    button.focus();
  });

  // A link to a folded panel (#settings, #sidebar) opens it, so it has something to show.
  function openTarget() {
    var panel = location.hash && document.getElementById(location.hash.slice(1));
    var button = panel && buttonFor(panel);
    if (button) setOpen(button, true);
  }
  window.addEventListener("hashchange", openTarget);
  openTarget();
})();
