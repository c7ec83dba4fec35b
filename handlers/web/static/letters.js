// Scanned letters: upload progress, keyboard grouping, OCR progress. Every page works without it.
(function () {
  "use strict";

  // Upload: the same multipart body, with a progress bar; the token goes in the X-CSRFToken
  // header too, so the server checks it before reading a byte.
  var form = document.getElementById("upload-form");
  if (form && window.FormData && window.XMLHttpRequest) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var bar = form.querySelector(".upload-progress");
      var status = form.querySelector(".upload-status");
      var button = form.querySelector("button[type=submit]");
      var xhr = new XMLHttpRequest();
      button.disabled = true;
      bar.hidden = false;
      xhr.open("POST", form.action);
      xhr.setRequestHeader("X-CSRFToken", form.elements.csrf_token.value);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", function (e) {
        if (!e.lengthComputable) { return; }
        bar.max = e.total;
        bar.value = e.loaded;
        status.textContent = "已上传 " + Math.floor(e.loaded * 100 / e.total) + "%";
      });
      xhr.upload.addEventListener("load", function () {
        status.textContent = "上传完成，正在加密保存…";
      });
      xhr.addEventListener("load", function () {
        var data = null;
        try { data = JSON.parse(xhr.responseText); } catch (err) { data = null; }
        if (xhr.status === 200 && data && data.batch_url) {
          window.location.href = data.batch_url;
          return;
        }
        var page = new DOMParser().parseFromString(xhr.responseText, "text/html");
        var message = page.querySelector(".error, main p");
        status.textContent = message ? message.textContent : "上传失败（HTTP " + xhr.status + "）。";
        button.disabled = false;
      });
      xhr.addEventListener("error", function () {
        status.textContent = "网络中断，上传可能没有完成。请在批次列表中核对收到了哪些文件，缺少的重新上传。";
        button.disabled = false;
      });
      xhr.send(new FormData(form));
    });
  }

  // Batch page: keys act on the focused page (see the hint on the page).
  var pages = Array.prototype.slice.call(document.querySelectorAll("li.page"));
  if (pages.length) {
    var target = window.location.hash && document.getElementById(window.location.hash.slice(1));
    if (target && !target.matches("li.page")) { target = target.querySelector("li.page"); }
    if (target) { target.focus(); }
    document.addEventListener("keydown", function (e) {
      if (e.altKey || e.ctrlKey || e.metaKey) { return; }
      var focused = document.activeElement;
      var page = focused && focused.closest ? focused.closest("li.page") : null;
      if (!page) { return; }
      var i = pages.indexOf(page);
      var key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
      var step = { j: 1, ArrowDown: 1, ArrowRight: 1, k: -1, ArrowUp: -1, ArrowLeft: -1 }[key];
      if (step) {
        if (pages[i + step]) { pages[i + step].focus(); }
        e.preventDefault();
        return;
      }
      if (key === "Enter" && focused === page) {
        window.location.href = page.dataset.review;
        return;
      }
      var button = page.querySelector("button[data-key='" + key + "']");
      if (!button && key === "m") {
        button = document.querySelector("#l" + page.dataset.letter + " button[data-key=m]");
      }
      if (button) {
        e.preventDefault();
        var focus = document.createElement("input");
        focus.type = "hidden";
        focus.name = "focus";  // come back to this page after the change
        focus.value = page.id.slice(1);
        button.form.appendChild(focus);
        button.click();
      }
    });
  }

  // OCR progress: poll while pages are unread, update the badges, offer a reload when done.
  var progress = document.getElementById("progress");
  if (progress && Number(progress.dataset.unread) > 0 && window.fetch) {
    var labels = { pending: "待识别", running: "识别中", done: "已识别", failed: "识别失败" };
    var lastKey = Date.now();
    document.addEventListener("keydown", function () { lastKey = Date.now(); });
    var timer = window.setInterval(function () {
      fetch(progress.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) { return; }
          ["done", "pending", "running", "failed"].forEach(function (k) {
            progress.querySelector("[data-count=" + k + "]").textContent = data[k];
          });
          Object.keys(data.pages).forEach(function (id) {
            var badge = document.querySelector(".status[data-page='" + id + "']");
            if (badge && badge.dataset.status !== data.pages[id]) {
              badge.dataset.status = data.pages[id];
              badge.textContent = labels[data.pages[id]];
            }
          });
          if (data.pending + data.running === 0) {
            window.clearInterval(timer);
            if (Date.now() - lastKey > 5000) { window.location.reload(); }
            progress.querySelector(".progress-done").hidden = false;
          }
        })
        .catch(function () { /* the next tick tries again */ });
    }, 3000);
  }
})();
