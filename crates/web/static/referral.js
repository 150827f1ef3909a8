/* Regulars referral pages: Copy buttons.

   <button data-copy="ID" data-copied="…" data-failed="…" hidden> copies the value (or text) of
   the element with that id. Buttons come without `hidden` only here, where a script can copy;
   without one the text stays there to select by hand. The clipboard API is tried first, then
   the older copy command; the button then says whether it worked, or asks the reader to copy
   the text, selected for them. Nothing leaves the page. */
(function () {
  "use strict";

  function textOf(el) {
    var value = el.tagName === "INPUT" || el.tagName === "TEXTAREA" ? el.value : el.textContent;
    return (value || "").trim();
  }

  function select(el) {
    if (el.tagName === "INPUT" || el.tagName === "TEXTAREA") {
      el.focus();
      el.select();
      try { el.setSelectionRange(0, el.value.length); } catch (e) { /* not every input type */ }
      return;
    }
    var range = document.createRange();
    range.selectNodeContents(el);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function commandCopy(el) {
    select(el);
    try {
      return document.execCommand("copy");
    } catch (e) {
      return false;
    }
  }

  function tell(button, copied) {
    button.textContent = button.getAttribute(copied ? "data-copied" : "data-failed") || button.textContent;
    button.setAttribute("data-state", copied ? "copied" : "failed");
  }

  function copy(button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) return;
    var settled = false;
    var settle = function (copied) {
      if (settled) return;
      settled = true;
      tell(button, copied);
    };
    var fallback = function () {
      if (!settled) settle(commandCopy(source));
    };
    if (navigator.clipboard && navigator.clipboard.writeText && window.isSecureContext) {
      navigator.clipboard.writeText(textOf(source)).then(function () {
        settle(true);
      }, fallback);
      // A browser that neither copies nor refuses (a permission prompt left open).
      setTimeout(fallback, 1500);
    } else {
      fallback();
    }
  }

  var buttons = document.querySelectorAll("button[data-copy]");
  for (var i = 0; i < buttons.length; i++) {
    var button = buttons[i];
    if (button.getAttribute("data-ready")) continue;
    button.setAttribute("data-ready", "1");
    button.setAttribute("aria-live", "polite");
    button.hidden = false;
    button.addEventListener("click", function (event) {
      copy(event.currentTarget);
    });
  }
})();
