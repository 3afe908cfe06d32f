// The code view's tabs, and aria-invalid kept in step with the error lines.
(function () {
  "use strict";

  function selectTab(tab) {
    var tabs = tab.closest("[role=tablist]").querySelectorAll("[role=tab]");
    tabs.forEach(function (each) {
      var chosen = each === tab;
      each.setAttribute("aria-selected", chosen ? "true" : "false");
      each.tabIndex = chosen ? 0 : -1;
      document.getElementById(each.getAttribute("aria-controls")).hidden = !chosen;
    });
    // Sent with every refresh of the code view, so it comes back on the same tab.
    var field = document.getElementById("code-tab");
    if (field) field.value = tab.dataset.tab;
  }

  document.addEventListener("click", function (event) {
    var tab = event.target.closest(".code-view [role=tab]");
    if (tab) selectTab(tab);
  });

  // Arrow keys move between the tabs, as a tablist does.
  document.addEventListener("keydown", function (event) {
    var tab = event.target.closest && event.target.closest(".code-view [role=tab]");
    if (!tab || (event.key !== "ArrowLeft" && event.key !== "ArrowRight")) return;
    var tabs = Array.prototype.slice.call(tab.parentNode.querySelectorAll("[role=tab]"));
    var next = tabs[(tabs.indexOf(tab) + (event.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
    selectTab(next);
    next.focus();
    event.preventDefault();
  });

  // The answer's schema editor in the options panel: adding, removing or inserting the example
  // redraws its rows without an input event, so save the panel as typing would. The example is
  // named too while the schema has no name, or the request would still be refused for it.
  document.addEventListener("htmx:afterRequest", function (event) {
    // The clicked button is gone (redrawn), so htmx reports the request on its parent.
    var trigger = event.detail.successful && event.detail.requestConfig.triggeringEvent;
    var button = trigger && trigger.target && trigger.target.closest && trigger.target.closest("button");
    var parameters = document.getElementById("parameters");
    var form = parameters && parameters.closest("#request-options");
    if (!form || !button || (button.name !== "action" && button.name !== "remove_row")) return;
    var name = button.dataset.nameField && document.getElementsByName(button.dataset.nameField)[0];
    if (name && !name.value.trim()) name.value = button.dataset.exampleName;
    htmx.trigger(form, "input");
  });

  document.addEventListener("htmx:oobAfterSwap", function (event) {
    var line = event.target;
    if (!line.classList || !line.classList.contains("field-error")) return;
    var field = document.getElementById(line.id.replace(/_error$/, ""));
    if (field) field.setAttribute("aria-invalid", line.textContent.trim() ? "true" : "false");
  });
})();
