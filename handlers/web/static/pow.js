// Proof of work for the public forms, asked only after unusual volume from one address
// (handlers/web/guard.py, intake/pow.py). When the reporter starts typing it fetches this
// address's challenge and, if work is asked, quietly finds a nonce with WebCrypto SHA-256; on
// submit it uses that answer (or does the work then, showing progress) and sends the form.
// Without this script the form still works at normal volume; past it the server explains.
(function () {
  "use strict";
  var form = document.querySelector("form[data-pow]");
  if (!form || !window.fetch || !window.TextEncoder || !window.crypto || !crypto.subtle) {
    return;  // e.g. plain HTTP outside localhost: no WebCrypto; the server will explain
  }
  var status = document.getElementById("pow-status");
  var submitting = false;
  var early = null;  // the work started while the reporter types

  function show(text) {
    if (status && submitting) { status.hidden = false; status.textContent = text; }
  }

  function zeroBits(buffer) {
    var bytes = new Uint8Array(buffer);
    for (var i = 0; i < bytes.length; i++) {
      if (bytes[i] !== 0) { return i * 8 + Math.clz32(bytes[i]) - 24; }
    }
    return bytes.length * 8;
  }

  // Digests are asked for in batches: one promise at a time would spend most of its time
  // waiting on the event loop.
  async function solve(token, bits) {
    var encoder = new TextEncoder();
    var prefix = token + ":";
    var batch = 1024;
    var expected = Math.pow(2, bits);
    for (var start = 0; ; start += batch) {
      var jobs = [];
      for (var i = start; i < start + batch; i++) {
        jobs.push(crypto.subtle.digest("SHA-256", encoder.encode(prefix + i)));
      }
      var digests = await Promise.all(jobs);
      for (var j = 0; j < digests.length; j++) {
        if (zeroBits(digests[j]) >= bits) { return String(start + j); }
      }
      var done = Math.min(99, Math.floor(100 * (1 - Math.exp(-(start + batch) / expected))));
      show("正在提交，请稍候…（正在完成防批量提交验证，约 " + done + "%）");
    }
  }

  // This address's challenge, solved; null when no work is asked.
  async function work() {
    var asked = Date.now();
    var response = await fetch(form.dataset.pow, {cache: "no-store"});
    var body = await response.json();
    if (!body.challenge) { return null; }
    var nonce = await solve(body.challenge, body.bits);
    // Keep a margin: the form still has to travel, with its attachments.
    return {challenge: body.challenge, nonce: nonce,
            until: asked + (body.expires_in - 60) * 1000};
  }

  function begin() {
    if (!early) {
      early = work();
      early.catch(function () { early = null; });
    }
  }

  function put(name, value) {
    var input = form.querySelector("input[name=" + name + "]");
    if (!input) {
      input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      form.appendChild(input);
    }
    input.value = value;
  }

  async function prove() {
    var answer = early ? await early.catch(function () { return null; }) : null;
    // No work was asked while typing (or it is too old): the address may be busier now.
    if (!answer || Date.now() > answer.until) { answer = await work(); }
    if (answer) {
      put("pow_challenge", answer.challenge);
      put("pow_nonce", answer.nonce);
      show("正在提交，请稍候…");
    }
  }

  form.addEventListener("input", begin);
  form.addEventListener("submit", function (event) {
    if (event.defaultPrevented) { return; }  // another handler stopped a second click
    event.preventDefault();
    submitting = true;
    prove().catch(function () {
      // Network or browser trouble: send anyway; the server asks again if work was needed.
    }).then(function () { form.submit(); });
  });
})();
