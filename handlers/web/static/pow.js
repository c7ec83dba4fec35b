// Proof of work for the public forms, asked only after unusual volume from one address
// (handlers/web/guard.py, intake/pow.py). When the reporter starts typing it fetches this
// address's challenge and, if work is asked, quietly finds a nonce with WebCrypto SHA-256; on
// submit it uses that answer (or does the work then, showing progress) and sends the form.
// Browsers offer WebCrypto only on HTTPS or localhost; over plain HTTP (an intranet address)
// the small SHA-256 below does the same work.
// Without this script the form still works at normal volume; past it the server explains.
(function () {
  "use strict";

  // SHA-256 (FIPS 180-4) in plain JavaScript, for pages without crypto.subtle. digester(prefix)
  // hashes the prefix's whole 64-byte blocks once; the function it returns gives the state
  // words of SHA-256(prefix + suffix) for an ASCII suffix, so each nonce costs one or two blocks.
  var K = new Int32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]);
  var IV = new Int32Array([
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  var W = new Int32Array(64);
  var last = new Uint8Array(64);

  function compress(H, bytes, at) {
    var t, x, y;
    for (t = 0; t < 16; t++, at += 4) {
      W[t] = bytes[at] << 24 | bytes[at + 1] << 16 | bytes[at + 2] << 8 | bytes[at + 3];
    }
    for (t = 16; t < 64; t++) {
      x = W[t - 15];
      y = W[t - 2];
      W[t] = (W[t - 16] + ((x >>> 7 | x << 25) ^ (x >>> 18 | x << 14) ^ (x >>> 3)) + W[t - 7] +
              ((y >>> 17 | y << 15) ^ (y >>> 19 | y << 13) ^ (y >>> 10))) | 0;
    }
    var a = H[0], b = H[1], c = H[2], d = H[3], e = H[4], f = H[5], g = H[6], h = H[7];
    for (t = 0; t < 64; t++) {
      x = (h + ((e >>> 6 | e << 26) ^ (e >>> 11 | e << 21) ^ (e >>> 25 | e << 7)) +
           ((e & f) ^ (~e & g)) + K[t] + W[t]) | 0;
      y = (((a >>> 2 | a << 30) ^ (a >>> 13 | a << 19) ^ (a >>> 22 | a << 10)) +
           ((a & b) ^ (a & c) ^ (b & c))) | 0;
      h = g; g = f; f = e; e = (d + x) | 0; d = c; c = b; b = a; a = (x + y) | 0;
    }
    H[0] = (H[0] + a) | 0; H[1] = (H[1] + b) | 0; H[2] = (H[2] + c) | 0; H[3] = (H[3] + d) | 0;
    H[4] = (H[4] + e) | 0; H[5] = (H[5] + f) | 0; H[6] = (H[6] + g) | 0; H[7] = (H[7] + h) | 0;
  }

  function digester(prefix) {
    var state = new Int32Array(IV), full = prefix.length - prefix.length % 64;
    for (var at = 0; at < full; at += 64) { compress(state, prefix, at); }
    var rest = prefix.length - full, tail = new Uint8Array(rest + 64), out = new Int32Array(8);
    tail.set(prefix.subarray(full));
    return function (suffix) {
      var n = rest + suffix.length, k;
      if (tail.length < n) {
        var grown = new Uint8Array(n);
        grown.set(tail.subarray(0, rest));
        tail = grown;
      }
      for (k = 0; k < suffix.length; k++) { tail[rest + k] = suffix.charCodeAt(k); }
      out.set(state);
      for (k = 0; k + 64 <= n; k += 64) { compress(out, tail, k); }
      last.fill(0);
      last.set(tail.subarray(k, n));
      last[n - k] = 0x80;
      if (n - k >= 56) { compress(out, last, 0); last.fill(0); }
      var bits = (full + n) * 8, high = Math.floor(bits / 0x100000000);
      last[56] = high >>> 24; last[57] = high >>> 16; last[58] = high >>> 8; last[59] = high;
      last[60] = bits >>> 24; last[61] = bits >>> 16; last[62] = bits >>> 8; last[63] = bits;
      compress(out, last, 0);
      return out;
    };
  }

  // For the browser test and bench/pow_browser.py: the digest of prefix + suffix as bytes,
  // to compare with WebCrypto's; powSha256.digester is the one the work below uses.
  window.powSha256 = function (prefix, suffix) {
    var words = digester(new TextEncoder().encode(prefix))(suffix), bytes = new Uint8Array(32);
    for (var i = 0; i < 32; i++) { bytes[i] = words[i >> 2] >>> (24 - 8 * (i & 3)); }
    return bytes;
  };
  window.powSha256.digester = digester;

  var form = document.querySelector("form[data-pow]");
  if (!form || !window.fetch || !window.TextEncoder) {
    return;  // a very old browser: the server will explain past the threshold
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

  function progress(tried, bits) {
    var done = Math.min(99, Math.floor(100 * (1 - Math.exp(-tried / Math.pow(2, bits)))));
    show("正在提交，请稍候…（正在完成防批量提交验证，约 " + done + "%）");
  }

  // Digests are asked for in batches: one promise at a time would spend most of its time
  // waiting on the event loop.
  async function solveSubtle(token, bits) {
    var encoder = new TextEncoder();
    var prefix = token + ":";
    var batch = 1024;
    for (var start = 0; ; start += batch) {
      var jobs = [];
      for (var i = start; i < start + batch; i++) {
        jobs.push(crypto.subtle.digest("SHA-256", encoder.encode(prefix + i)));
      }
      var digests = await Promise.all(jobs);
      for (var j = 0; j < digests.length; j++) {
        if (zeroBits(digests[j]) >= bits) { return String(start + j); }
      }
      progress(start + batch, bits);
    }
  }

  // Without WebCrypto: hash in slices of about 40 ms, letting the page breathe between them.
  async function solvePlain(token, bits) {
    var next = digester(new TextEncoder().encode(token + ":"));
    for (var nonce = 0; ;) {
      var until = Date.now() + 40;
      do {
        var words = next(String(nonce));
        for (var k = 0, zeros = 0; k < 8; k++, zeros += 32) {
          if (words[k] !== 0) { zeros += Math.clz32(words[k]); break; }
        }
        if (zeros >= bits) { return String(nonce); }
        nonce++;
      } while (nonce % 256 || Date.now() < until);
      progress(nonce, bits);
      await new Promise(function (resolve) { setTimeout(resolve, 0); });
    }
  }

  function solve(token, bits) {
    return window.crypto && crypto.subtle ? solveSubtle(token, bits) : solvePlain(token, bits);
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
