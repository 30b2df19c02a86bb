// orderdeck: small improvements only; every page works without this file.
(function () {
  "use strict";
  // Live refund amount: items + refund shipping + adjustment refund - adjustment fee.
  var form = document.querySelector('form[data-action="refund"]');
  if (form) {
    var out = document.getElementById("refund-amount");
    var cents = function (v) {
      var s = String(v || "").trim();
      if (!/^\d+(\.\d{0,2})?$/.test(s)) { return s === "" ? 0 : NaN; }
      var parts = s.split(".");
      return parseInt(parts[0], 10) * 100 + (parts[1] ? parseInt((parts[1] + "0").slice(0, 2), 10) : 0);
    };
    var field = function (name) { var el = form.elements[name]; return el ? cents(el.value) : 0; };
    var update = function () {
      var total = 0;
      form.querySelectorAll("input.qty").forEach(function (q) {
        var n = parseInt(q.value || "0", 10);
        if (n > 0) { total += n * cents(q.getAttribute("data-price")); }
      });
      total += field("refund_shipping") + field("adjustment_refund") - field("adjustment_fee");
      if (isNaN(total)) { out.textContent = "—"; return; }
      var sign = total < 0 ? "−" : "";
      var abs = Math.abs(total);
      out.textContent = sign + Math.floor(abs / 100) + "." + String(abs % 100).padStart(2, "0");
    };
    form.addEventListener("input", update);
    update();
  }
  // Print buttons (packing slips, invoices): shown only where the script runs.
  document.querySelectorAll("button[data-print]").forEach(function (b) {
    b.hidden = false;
    b.addEventListener("click", function () { window.print(); });
  });
  // Close an open ⋮ menu when clicking elsewhere or pressing Escape.
  document.addEventListener("click", function (e) {
    document.querySelectorAll("details.menu[open]").forEach(function (d) {
      if (!d.contains(e.target)) { d.removeAttribute("open"); }
    });
  });
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape") {
      document.querySelectorAll("details.menu[open]").forEach(function (d) {
        d.removeAttribute("open");
        var s = d.querySelector("summary");
        if (s) { s.focus(); }
      });
    }
  });
  // Bulk actions: a live count of the ticked orders, "select the page", and only the fields
  // the chosen action takes. Without this file every field shows and the server ignores the
  // ones an action does not take.
  var bulk = document.getElementById("bulk-form");
  if (bulk) {
    var boxes = bulk.querySelectorAll('input[name="orders"]');
    var pagePick = document.getElementById("pick-page");
    var all = document.getElementById("pick-all");
    var count = document.getElementById("selected-count");
    var action = document.getElementById("bulk-action");
    var refresh = function () {
      var n = 0;
      boxes.forEach(function (b) { if (b.checked) { n += 1; } });
      if (pagePick) { pagePick.checked = n > 0 && n === boxes.length; pagePick.indeterminate = n > 0 && n < boxes.length; }
      if (count) {
        count.hidden = false;
        count.textContent = all && all.checked ? "All matching orders selected" : n + " selected";
      }
    };
    var fields = function () {
      if (!action) { return; }
      bulk.querySelectorAll("[data-for]").forEach(function (f) {
        f.hidden = f.getAttribute("data-for").split(" ").indexOf(action.value) < 0;
      });
    };
    if (pagePick) {
      pagePick.hidden = false;
      pagePick.addEventListener("change", function () {
        boxes.forEach(function (b) { b.checked = pagePick.checked; });
        refresh();
      });
    }
    bulk.addEventListener("change", refresh);
    if (action) { action.addEventListener("change", fields); }
    fields();
    refresh();
  }
})();
