// The check form shows only the fields the chosen kind needs (each field names its kinds in
// data-kinds); without this script every field shows, each with its help.
(function () {
  "use strict";
  function update(select) {
    var form = select.form;
    form.querySelectorAll("[data-kinds]").forEach(function (field) {
      field.hidden = field.dataset.kinds.split(" ").indexOf(select.value) === -1;
    });
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches(".check-form select[name=kind]")) update(event.target);
  });
  document.addEventListener("DOMContentLoaded", function () {
    var select = document.querySelector(".check-form select[name=kind]");
    if (select) update(select);
  });
})();
