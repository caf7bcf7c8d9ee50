// The slip's "In phiếu" button (templates/staff/counter_slip.html): the browser's print
// dialog. Without JavaScript the hint under it says Ctrl+P.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
});
