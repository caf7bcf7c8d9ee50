/* Progressive enhancement only: every page works without this file.
   1. Captcha "Đổi mã khác": POST /captcha/refresh (CSRF token in X-CSRFToken) and swap the
      picture, the audio link and the hidden captcha_id in place; falls back to the plain link.
   2. OTP boxes: a `.otp-boxes` container (initially `hidden`, holding N unnamed inputs, each
      with its own aria-label) in the same form as the real `otp` input (or the field named by
      data-for). With JS the boxes are shown under the field's label, the real input is
      hidden (its error message stays visible and describes the boxes), and the boxes keep
      the real field filled; typing, pasting and SMS autofill all work.
   3. Resend cooldown: an element with data-countdown="N" (the "Có thể gửi lại sau N giây."
      hint) counts down each second; the button it describes (aria-describedby) is marked
      aria-disabled and does not submit until the count reaches 0, then the hint is hidden.
      The number in the server's text is replaced, so any language works.
   4. Waiting for the phone (signer_wait.html): a form with data-auto-check="N" is submitted
      again after N seconds, and soon after the page becomes visible again (the citizen
      comes back from the SIM prompt or the SmartCA app), with a hidden auto=1 so the
      server does not repeat "not confirmed yet". It is a real POST (CSRF token, the step
      that signs in); the page's own button does the same without JavaScript. */
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
    if (!field || field.contains(container)) field = null;
    var label = field && field.querySelector("label[for='" + target.id + "']");
    var error = field && field.querySelector(".field-error");
    if (label) {
      // The visible label now names the group of boxes.
      var text = document.createElement("p");
      text.className = "otp-label";
      text.id = target.id + "-boxes-label";
      text.textContent = label.textContent.replace(/\*\s*$/, "").trim();
      container.parentNode.insertBefore(text, container);
      container.removeAttribute("aria-label");
      container.setAttribute("aria-labelledby", text.id);
      text.addEventListener("click", function () { boxes[0].focus(); });
    }
    if (error) {
      // Keep the message visible, under the boxes, and tie it to them.
      if (!error.id) error.id = target.id + "-error";
      container.setAttribute("aria-describedby", error.id);
      container.classList.add("otp-boxes--error");
      boxes.forEach(function (b) { b.setAttribute("aria-invalid", "true"); });
      Array.prototype.forEach.call(field.children, function (child) {
        if (child !== error) child.hidden = true;
      });
      field.classList.add("field--boxed");
    } else if (field) {
      field.hidden = true;
    }
    var focusBoxes = target.hasAttribute("autofocus") || document.activeElement === target;
    target.hidden = true;
    target.removeAttribute("required");
    target.removeAttribute("autocomplete");
    target.removeAttribute("autofocus");
    container.hidden = false;
    if (focusBoxes) boxes[0].focus();
    form.addEventListener("submit", sync);
  }

  function setupCountdown(hint) {
    var seconds = parseInt(hint.getAttribute("data-countdown"), 10);
    if (!(seconds > 0)) return;
    var template = hint.textContent;
    var shown = String(seconds);
    var deadline = Date.now() + seconds * 1000;
    var buttons = hint.id ? Array.prototype.filter.call(
      document.querySelectorAll("[aria-describedby]"), function (el) {
        return el.getAttribute("aria-describedby").split(/\s+/).indexOf(hint.id) >= 0;
      }) : [];
    if (!buttons.length) {
      var form = hint.closest("form");
      var resend = form && form.querySelector("button[value=resend]");
      if (resend) buttons = [resend];
    }

    function block(event) {
      if (event.currentTarget.getAttribute("aria-disabled") === "true") event.preventDefault();
    }
    buttons.forEach(function (b) {
      b.setAttribute("aria-disabled", "true");
      b.addEventListener("click", block);
    });

    var timer = null;
    function tick() {
      var left = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
      if (left > 0) {
        var now = String(left);
        hint.textContent = template.replace(shown, now);
        return;
      }
      if (timer !== null) window.clearInterval(timer);
      hint.hidden = true;
      buttons.forEach(function (b) { b.removeAttribute("aria-disabled"); });
    }
    timer = window.setInterval(tick, 1000);
    tick();
  }

  function setupAutoCheck(form) {
    var seconds = parseInt(form.getAttribute("data-auto-check"), 10);
    if (!(seconds > 0)) return;
    var sent = false;
    var timer = null;
    function check() {
      if (sent) return;
      sent = true;
      var auto = document.createElement("input");
      auto.type = "hidden";
      auto.name = "auto";
      auto.value = "1";
      form.appendChild(auto);
      var button = form.querySelector("button[type=submit]");
      if (form.requestSubmit) {
        if (button) form.requestSubmit(button); else form.requestSubmit();
      } else {
        form.submit();
      }
    }
    function schedule(ms) {
      if (timer !== null) window.clearTimeout(timer);
      timer = window.setTimeout(check, ms);
    }
    form.addEventListener("submit", function () { sent = true; });
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") schedule(500);
    });
    schedule(seconds * 1000);
  }

  function init() {
    document.querySelectorAll("[data-captcha-refresh]").forEach(setupCaptcha);
    document.querySelectorAll(".otp-boxes").forEach(setupOtp);
    document.querySelectorAll("[data-countdown]").forEach(setupCountdown);
    document.querySelectorAll("form[data-auto-check]").forEach(setupAutoCheck);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
