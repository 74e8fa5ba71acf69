// Closeout's glue: carry the user token on every htmx call, refresh it before it expires, toasts.
(function () {
  "use strict";
  var body = document.body;
  var token = body.getAttribute("data-token") || "";
  var waiting = [];          // requests held while a fresh token is on its way
  var refreshTimer = null;

  function claims(jwt) {
    try {
      var part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(atob(part));
    } catch (e) { return {}; }
  }

  function post(action, payload) {
    // Clockify reads add-on messages as JSON strings of {action, payload} (docs/clockify.md#iframe).
    if (window.top && window.top !== window) {
      window.top.postMessage(JSON.stringify({ action: action, payload: payload || {} }), "*");
    }
  }

  function requestRefresh() { post("refreshAddonToken"); }

  function schedule() {
    clearTimeout(refreshTimer);
    var c = claims(token);
    if (!c.exp) { return; }
    // Ask two minutes before expiry, or half-way through a shorter lifetime, and never more often than
    // every five seconds: a fresh short-lived token must not trigger an immediate new request.
    var lifetime = c.iat ? (c.exp - c.iat) * 1000 : 1800000;
    var lead = Math.min(120000, lifetime / 2);
    var ms = c.exp * 1000 - Date.now() - lead;
    refreshTimer = setTimeout(requestRefresh, Math.max(ms, 5000));
  }

  function setToken(fresh) {
    if (!fresh || fresh === token) { return; }
    token = fresh;
    body.setAttribute("data-token", fresh);
    schedule();
    var held = waiting; waiting = [];
    held.forEach(function (retry) { retry(); });
  }

  // The host answers refreshAddonToken with {title: "refreshAddonToken", body: "<jwt>"}; the format is
  // not documented by Clockify (docs/clockify.md#iframe), so accept an object or its JSON string.
  window.addEventListener("message", function (event) {
    // Only the host page that embeds us may hand us a token.
    if (event.source !== window.parent || window.parent === window) { return; }
    var data = event.data;
    if (typeof data === "string") { try { data = JSON.parse(data); } catch (e) { return; } }
    if (!data) { return; }
    var title = data.title || data.action;
    var fresh = data.body || (data.payload && data.payload.token);
    if (title === "refreshAddonToken" && typeof fresh === "string") { setToken(fresh); }
  });

  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-Addon-Token"] = token;
  });

  // A call refused for an expired token is replayed once a fresh one arrives: the form, selection and
  // half-typed note stay on the page because nothing was swapped.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    // A 422 carries the form re-rendered with a message beside each invalid field: show it in place.
    if (xhr.status === 422) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
      return;
    }
    if (xhr.status === 401 && /expired/i.test(xhr.responseText || "")) {
      event.detail.shouldSwap = false;
      event.detail.isError = false;
      var elt = event.detail.requestConfig.elt;
      var target = event.detail.target;
      var verb = event.detail.requestConfig.verb;
      var path = event.detail.requestConfig.path;
      var values = event.detail.requestConfig.parameters;
      // A poll asks again by itself, with the fresh token: replaying it too would run two pollers, and a
      // replay whose element was replaced meanwhile would swap into the wrong place.
      if (!/\bevery\b/.test(elt.getAttribute("hx-trigger") || "")) {
        waiting.push(function () {
          if (!document.body.contains(elt) || !document.body.contains(target)) { return; }
          htmx.ajax(verb.toUpperCase(), path, { source: elt, values: values, target: target });
        });
      }
      requestRefresh();
    }
  });

  document.addEventListener("closeout:toast", function (event) {
    post("toastrPop", { type: event.detail.type || "info", message: event.detail.message || "" });
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-dismiss]");
    if (button) { button.parentElement.remove(); }
  });

  // Approvals: the selection lives here, by request id, so it survives the queue reloading itself
  // (filters, paging, live updates); checkboxes are re-ticked after every swap.
  var selected = {};
  function countSelected() {
    var n = Object.keys(selected).length;
    document.querySelectorAll("[data-selected-count]").forEach(function (el) {
      el.textContent = n ? n + " selected" : "";
    });
  }
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (box.matches && box.matches("input[type=checkbox][name=ids]")) {
      if (box.checked) { selected[box.value] = true; } else { delete selected[box.value]; }
      countSelected();
    }
    if (box.matches && box.matches("[data-select-all]")) {
      var name = box.getAttribute("data-select-all") || "ids";
      // Only enabled boxes: a row the viewer cannot decide is never part of "all".
      box.closest("table").querySelectorAll("input[type=checkbox][name='" + name + "']:not(:disabled)").forEach(function (cb) {
        cb.checked = box.checked;
        if (name === "ids") { if (box.checked) { selected[cb.value] = true; } else { delete selected[cb.value]; } }
      });
      countSelected();
    }
  });
  document.addEventListener("htmx:afterSwap", function () {
    document.querySelectorAll("input[type=checkbox][name=ids]").forEach(function (cb) {
      cb.checked = !!selected[cb.value];
    });
    countSelected();
  });
  // A decision sent ends the selection (the rows change state); a refused one keeps it.
  document.addEventListener("htmx:afterRequest", function (event) {
    var elt = event.detail.elt;
    if (event.detail.successful && elt && elt.id === "decide-form") {
      selected = {};
      document.querySelectorAll("input[type=checkbox][name=ids], [data-select-all]").forEach(function (cb) { cb.checked = false; });
      countSelected();
    }
  });
  document.addEventListener("click", function (event) {
    var sorter = event.target.closest("[data-sort]");
    var form = document.getElementById("queue-filters");
    if (!sorter || !form) { return; }
    form.querySelector("[name=sort]").value = sorter.getAttribute("data-sort");
    form.querySelector("[name=order]").value = sorter.getAttribute("data-order");
    htmx.trigger(form, "change");
  });

  window.Closeout = { token: function () { return token; }, setToken: setToken, refresh: requestRefresh };
  schedule();
})();
