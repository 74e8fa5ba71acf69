// The host shell's glue: answer add-on iframes' window messages (refreshAddonToken, toastrPop) as Clockify does.
(function () {
  "use strict";

  // Acting as another role submits at once.
  document.querySelectorAll("[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  function frameOf(source) {
    var frames = document.querySelectorAll("iframe[data-addon-frame]");
    for (var i = 0; i < frames.length; i++) {
      if (frames[i].contentWindow === source) { return frames[i]; }
    }
    return null;
  }

  function toast(type, message) {
    var kinds = ["info", "warning", "success", "error"];
    var kind = kinds.indexOf(type) >= 0 ? type : "info";
    var box = document.getElementById("sb-toasts");
    var item = document.createElement("div");
    item.className = "sb-toast sb-toast-" + kind;
    item.setAttribute("data-testid", "toast");
    item.setAttribute("data-type", kind);
    item.textContent = String(message || "");
    box.appendChild(item);
    setTimeout(function () { item.remove(); }, 6000);
  }

  function count(name) {
    var body = document.body;
    body.setAttribute(name, String(Number(body.getAttribute(name) || "0") + 1));
  }

  // The reply format is the sandbox's choice: Clockify does not document it (docs/clockify.md#iframe); see README.
  function refresh(frame) {
    fetch("/shell/token", { method: "POST", credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); })
      .then(function (data) {
        frame.contentWindow.postMessage({ title: "refreshAddonToken", body: data.token }, frame.getAttribute("data-addon-origin"));
        count("data-token-refreshes");
      })
      .catch(function () { toast("error", "Could not refresh the add-on's token."); });
  }

  window.addEventListener("message", function (event) {
    var frame = frameOf(event.source);
    // Only the add-on's own iframes, from the origin the manifest names, may talk to the host.
    if (!frame || event.origin !== frame.getAttribute("data-addon-origin")) { return; }
    var data = event.data;
    if (typeof data === "string") {
      try { data = JSON.parse(data); } catch (e) { return; }
    }
    if (!data || typeof data !== "object") { return; }
    if (data.action === "refreshAddonToken") { refresh(frame); }
    else if (data.action === "toastrPop") {
      var payload = data.payload || {};
      toast(payload.type, payload.message);
      count("data-toasts");
    }
  });
})();
