// Keyboard help for the duty desk's call and visit log; the form works without it.
(function () {
  "use strict";
  var form = document.querySelector("form.desk-log");
  if (!form) { return; }
  form.addEventListener("keydown", function (event) {
    if (event.key !== "Enter") { return; }
    if (event.ctrlKey || event.metaKey) {
      event.preventDefault();
      form.requestSubmit();
    } else if (event.target.tagName === "INPUT") {
      event.preventDefault();  // Enter in a small field must not save a half-typed log
    }
  });
  var submitting = false;
  form.addEventListener("submit", function (event) {
    if (submitting) { event.preventDefault(); return; }  // one item per call, even on a double press
    submitting = true;
  });
}());
