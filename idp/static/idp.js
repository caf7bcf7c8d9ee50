/* Progressive enhancement only: every page works without this file.
   1. Captcha "Đổi mã khác": POST /captcha/refresh (CSRF token in X-CSRFToken) and swap the
      picture, the audio link and the hidden captcha_id in place; falls back to the plain link.
   2. OTP boxes: a `.otp-boxes` container (initially `hidden`, holding N unnamed inputs, each
      with its own aria-label) in the same form as the real `otp` input (or the field named by
      data-for). With JS the boxes are shown, the real field's `.field` is hidden, and the
      boxes keep the real field filled; typing, pasting and SMS autofill all work. */
(function () {
  "use strict";

  function csrfToken(form) {
    var input = form && form.querySelector("input[name=csrf_token]");
    return input ? input.value : "";
  }

  function setupCaptcha(link) {
    var box = link.closest(".captcha");
    var form = link.closest("form");
    if (!box || !form || !window.fetch) return;
    link.addEventListener("click", function (event) {
      var idInput = box.querySelector("[data-captcha-id]");
      event.preventDefault();
      link.setAttribute("aria-busy", "true");
      fetch(link.getAttribute("data-endpoint"), {
        method: "POST",
        credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-CSRFToken": csrfToken(form)},
        body: JSON.stringify({captcha_id: idInput ? idInput.value : null})
      }).then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.json();
      }).then(function (data) {
        var img = box.querySelector("[data-captcha-image]");
        var audio = box.querySelector("[data-captcha-audio]");
        var answer = box.querySelector("input[name=captcha]");
        if (img) img.src = data.image_url;
        if (audio) audio.href = data.audio_url;
        if (idInput) idInput.value = data.captcha_id;
        if (answer) { answer.value = ""; answer.focus(); }
        link.removeAttribute("aria-busy");
      }).catch(function () {
        window.location.href = link.href;  // the plain page reload still works
      });
    });
  }

  function setupOtp(container) {
    var form = container.closest("form");
    var target = form && form.elements[container.getAttribute("data-for") || "otp"];
    var boxes = Array.prototype.slice.call(container.querySelectorAll("input"));
    if (!target || !boxes.length) return;

    function sync() {
      target.value = boxes.map(function (b) { return b.value; }).join("");
    }
    function spread(text, from) {
      var digits = text.replace(/\D/g, "").split("");
      for (var i = from; i < boxes.length && digits.length; i++) boxes[i].value = digits.shift();
      sync();
      boxes[Math.min(from + text.replace(/\D/g, "").length, boxes.length - 1)].focus();
    }

    boxes.forEach(function (box, i) {
      box.removeAttribute("maxlength");  // an autofilled code arrives whole in one box
      box.setAttribute("inputmode", "numeric");
      box.setAttribute("autocomplete", i === 0 ? "one-time-code" : "off");
      box.addEventListener("input", function () {
        var v = box.value.replace(/\D/g, "");
        if (v.length > 1) { box.value = ""; spread(v, i); return; }  // autofill or paste
        box.value = v;
        sync();
        if (v && i + 1 < boxes.length) boxes[i + 1].focus();
      });
      box.addEventListener("keydown", function (event) {
        if (event.key === "Backspace" && !box.value && i > 0) boxes[i - 1].focus();
      });
      box.addEventListener("paste", function (event) {
        var text = (event.clipboardData || window.clipboardData).getData("text");
        event.preventDefault();
        spread(text, i);
      });
    });

    // Keep what the browser may have restored into the real field.
    if (target.value) spread(target.value, 0);
    var field = target.closest(".field");
    if (!field || field.contains(container)) field = target;
    field.hidden = true;
    target.removeAttribute("required");
    target.removeAttribute("autocomplete");
    container.hidden = false;
    form.addEventListener("submit", sync);
  }

  function init() {
    document.querySelectorAll("[data-captcha-refresh]").forEach(setupCaptcha);
    document.querySelectorAll(".otp-boxes").forEach(setupOtp);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
