// Progressive enhancement for the report form; the form works without it.
(function () {
  "use strict";
  var form = document.querySelector("form.report");
  if (!form) { return; }
  var identity = document.getElementById("identity");
  function syncIdentity() {
    var named = form.querySelector("input[name=anonymous][value=false]").checked;
    identity.hidden = !named;
    identity.querySelectorAll("input").forEach(function (input) {
      input.disabled = !named;  // disabled fields are not sent: an anonymous report carries no identity
    });
  }
  form.querySelectorAll("input[name=anonymous]").forEach(function (radio) {
    radio.addEventListener("change", syncIdentity);
  });
  syncIdentity();

  var text = document.getElementById("text");
  var counter = form.querySelector(".counter");
  function count() {
    counter.textContent = "已写 " + text.value.length + " 字，最多 " + counter.dataset.max + " 字";
  }
  text.addEventListener("input", count);
  count();

  var submitting = false;
  form.addEventListener("submit", function (event) {
    if (submitting) { event.preventDefault(); return; }  // no double submission on slow networks
    submitting = true;
    var button = form.querySelector("button[type=submit]");
    button.textContent = "正在提交，请稍候…";
  });
})();
