// Keyboard help for triaging one item: single keys for the usual decisions, Ctrl+Enter to save
// a correction, N/J/K through the queue, ? for the list. Every control works without it.
(function () {
  "use strict";
  var triage = document.getElementById("triage");
  if (!triage) { return; }
  document.documentElement.classList.add("keys");  // shows the keys next to the controls

  var confirmForm = document.getElementById("confirm-form");
  var panel = document.getElementById("correct-panel");
  var correctForm = document.getElementById("correct-form");
  var help = document.getElementById("keys-help");
  var role = correctForm ? correctForm.querySelector("select[name=subject_role]") : null;
  var NOT_TEXT = ["checkbox", "radio", "button", "submit", "reset", "hidden", "file", "image",
                  "range", "color"];

  function isTextField(el) {
    if (!el || !el.tagName) { return false; }
    if (el.isContentEditable || el.tagName === "TEXTAREA" || el.tagName === "SELECT") {
      return true;
    }
    return el.tagName === "INPUT" && NOT_TEXT.indexOf(el.type) < 0;
  }

  var submitting = false;
  function submitAndNext(form) {
    if (submitting) { return; }  // one decision per key press, even on a double press
    var flag = form.querySelector("input.next-flag");
    if (flag) { flag.value = "1"; }
    form.requestSubmit();
  }
  [confirmForm, correctForm].forEach(function (form) {
    if (!form) { return; }
    form.addEventListener("submit", function (event) {
      if (submitting) { event.preventDefault(); return; }
      submitting = true;
    });
  });

  function openPanel() {
    if (panel && !panel.open) { panel.open = true; }
  }
  function choose(input) {  // a box or a choice in the correction form, with the panel open
    if (!input) { return; }
    openPanel();
    input.focus();
  }
  // Edits in the correction form not yet saved: leaving or confirming asks first.
  var dirty = false;
  if (correctForm) {
    correctForm.addEventListener("input", function () { dirty = true; });
    correctForm.addEventListener("change", function () { dirty = true; });
  }
  function mayDiscard() {
    return !dirty || window.confirm("更正尚未保存，确定放弃吗？");
  }
  function go(id) {
    var link = document.getElementById(id);
    if (link && mayDiscard()) { window.location.href = link.href; }
  }
  function showHelp(show) {
    if (!help) { return; }
    help.hidden = !show;
    if (show) { document.getElementById("keys-help-close").focus(); }
  }

  // The suggestion's other people: pick one as the subject, with their role.
  function pickCandidate(radio) {
    radio.checked = true;
    if (role && radio.dataset.role) { role.value = radio.dataset.role; }
  }
  Array.prototype.forEach.call(triage.querySelectorAll("button.pick"), function (button) {
    var radio = document.getElementById(button.dataset.candidate);
    if (!radio) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      pickCandidate(radio);
      choose(radio);
    });
  });
  if (correctForm) {
    Array.prototype.forEach.call(correctForm.querySelectorAll("input[name=candidate]"),
      function (radio) {
        radio.addEventListener("change", function () { if (radio.value) { pickCandidate(radio); } });
      });
  }

  // Evidence: scroll to its place in the text and outline it for a moment.
  Array.prototype.forEach.call(triage.querySelectorAll("ul.evidence a[data-mark]"), function (a) {
    a.addEventListener("click", function (event) {
      var mark = document.getElementById(a.dataset.mark);
      if (!mark) { return; }
      event.preventDefault();
      mark.scrollIntoView({ block: "center", behavior: "smooth" });
      mark.classList.remove("flash");
      void mark.offsetWidth;  // restart the outline if it is still showing
      mark.classList.add("flash");
      window.clearTimeout(mark.flashTimer);
      mark.flashTimer = window.setTimeout(function () { mark.classList.remove("flash"); }, 1600);
    });
  });

  var showKeys = document.getElementById("show-keys");
  if (showKeys) { showKeys.addEventListener("click", function () { showHelp(help.hidden); }); }
  var closeHelp = document.getElementById("keys-help-close");
  if (closeHelp) { closeHelp.addEventListener("click", function () { showHelp(false); }); }

  function decisionKey(key) {
    if (!correctForm) { return false; }
    if (key === "y") {
      if (!confirmForm) { return false; }
      if (mayDiscard()) { submitAndNext(confirmForm); }
    } else if (key === "e") {
      choose(correctForm.querySelector("input[name=in_scope]:checked")
             || correctForm.querySelector("input[name=in_scope]"));
    } else if (key >= "1" && key <= "6") {
      var box = correctForm.querySelector("input[name=disciplines][data-key='" + key + "']");
      if (!box) { return false; }
      box.checked = !box.checked;
      dirty = true;
      choose(box);
    } else if (key === "a" || key === "t") {
      var scope = correctForm.querySelector(
        "input[name=in_scope][value=" + (key === "a" ? "true" : "false") + "]");
      scope.checked = true;
      dirty = true;
      choose(scope);
    } else if (key === "r") {
      choose(role);
    } else {
      return false;
    }
    return true;
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.isComposing || event.keyCode === 229) { return; }
    var target = event.target;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      // Saves the correction from anywhere in its form, text fields included, or from the
      // page when the form is open and nothing else has the focus.
      if (correctForm && (correctForm.contains(target)
                          || (panel.open && !isTextField(target)
                              && !(target.closest && target.closest("#casework"))))) {
        event.preventDefault();
        submitAndNext(correctForm);
      }
      return;
    }
    if (event.key === "Escape") {
      if (help && !help.hidden) {
        showHelp(false);
      } else if (isTextField(target)) {
        target.blur();
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || isTextField(target)) { return; }
    // Shift with a letter is the 办理 panel's (casework.js): Shift+A accepts as a lead.
    if (event.shiftKey && /^[a-z]$/i.test(event.key)) { return; }
    var key = event.key.length === 1 ? event.key.toLowerCase() : "";
    if (key === "?") {
      showHelp(help.hidden);
    } else if (key === "n" || key === "j") {
      go("next-item");
    } else if (key === "k") {
      go("prev-item");
    } else if (!decisionKey(key)) {
      return;
    }
    event.preventDefault();
  });
}());
