// Cells pasted from a spreadsheet into a cell of the table become rows: the text (tabs between
// cells, a line per row) goes to the "Paste rows" form, which adds them.
(function () {
  "use strict";
  document.addEventListener("paste", function (event) {
    var cell = event.target;
    if (!cell.closest || !cell.closest("table.cases")) return;
    var text = (event.clipboardData || window.clipboardData).getData("text");
    if (text.indexOf("\t") === -1 && text.replace(/\r?\n$/, "").indexOf("\n") === -1) return;
    var box = document.getElementById("paste-rows");
    if (!box) return;
    event.preventDefault();
    box.value = text;
    htmx.trigger(box.form, "submit");
  });
})();
