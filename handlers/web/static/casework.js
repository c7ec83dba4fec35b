// Keys for the case after triage. On the item page's 办理 panel: Shift+A 受理为线索, Shift+T
// 转办, C 办结, D 登记为重复件 open their form with the cursor in its first field (Shift+A/T
// carry out what A/T choose in the triage correction: 受理/转交). On a transfer's page: R puts
// the cursor in 登记答复. Ctrl+Enter sends the form the cursor is in. Every form works without
// this script.
(function () {
  "use strict";
  var panel = document.getElementById("casework") || document.getElementById("transfer-page");
  if (!panel) { return; }
  document.documentElement.classList.add("keys");
  var SHIFTED = { A: "cw-accept", T: "cw-transfer" };
  var PLAIN = { c: "cw-close", d: "cw-repeat", r: "reply-form" };
  var NOT_TEXT = ["checkbox", "radio", "button", "submit", "reset", "hidden", "file", "image",
                  "range", "color"];

  function isTextField(el) {
    if (!el || !el.tagName) { return false; }
    if (el.isContentEditable || el.tagName === "TEXTAREA" || el.tagName === "SELECT") {
      return true;
    }
    return el.tagName === "INPUT" && NOT_TEXT.indexOf(el.type) < 0;
  }

  function openForm(id) {
    var box = document.getElementById(id);
    if (!box) { return false; }
    box.open = true;  // a <details>; a plain form ignores it
    var first = box.querySelector("input[type=radio]:checked, select, textarea, "
                                  + "input:not([type=hidden])");
    box.scrollIntoView({ block: "nearest" });
    if (first) { first.focus(); }
    return true;
  }

  var sent = false;  // one step per press, even on a double press
  Array.prototype.forEach.call(panel.querySelectorAll("form"), function (form) {
    form.addEventListener("submit", function (event) {
      if (sent) { event.preventDefault(); return; }
      sent = true;
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.isComposing || event.keyCode === 229) { return; }
    var target = event.target;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      var form = target && target.closest ? target.closest("form") : null;
      if (form && !panel.contains(form)) { form = null; }
      if (form) {
        event.preventDefault();
        if (!sent) { form.requestSubmit(); }
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || isTextField(target)) { return; }
    if (event.key.length !== 1) { return; }
    var id = event.shiftKey ? SHIFTED[event.key.toUpperCase()]
                            : PLAIN[event.key.toLowerCase()];
    if (id && openForm(id)) { event.preventDefault(); }
  });
}());
