// Latchkey admin UI: progressive enhancement only. Every page works
// without this script; it adds the copy button next to a new secret.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("button[data-copy]").forEach(function (btn) {
    var input = document.getElementById(btn.getAttribute("data-copy"));
    if (!input || !navigator.clipboard) { return; }
    btn.hidden = false;
    btn.addEventListener("click", function () {
      navigator.clipboard.writeText(input.value).then(function () {
        btn.textContent = "Copied";
        setTimeout(function () { btn.textContent = "Copy"; }, 2000);
      }, function () {
        input.select();
        btn.textContent = "Press Ctrl+C";
      });
    });
  });
  document.querySelectorAll("input[data-secret]").forEach(function (input) {
    input.addEventListener("focus", function () { input.select(); });
  });
});
