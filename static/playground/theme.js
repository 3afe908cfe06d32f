// Loaded in <head> without defer, so a colour scheme chosen in this browser applies before the
// page is drawn (no flash of the other one). Without a choice, CSS follows the system setting.
(function () {
  "use strict";
  try {
    var theme = localStorage.getItem("hexplay-theme");
    if (theme === "dark" || theme === "light") document.documentElement.dataset.theme = theme;
  } catch (e) { /* storage blocked: the system setting applies */ }
})();
