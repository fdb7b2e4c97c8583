(function () {
  var buttons = document.querySelectorAll(".mlw-toggle-code");
  function label() {
    var hidden = document.body.classList.contains("mlw-hide-code");
    buttons.forEach(function (b) { b.textContent = hidden ? "Show code" : "Hide code"; });
  }
  buttons.forEach(function (b) {
    b.addEventListener("click", function () {
      document.body.classList.toggle("mlw-hide-code");
      label();
    });
  });
  label();
})();
(function () {
  /* the export: each stage page folded in a <details>; a link into one opens it, printing opens them all */
  var stages = document.querySelectorAll("details.mlw-stage");
  if (!stages.length) { return; }
  function openAround(id) {
    var target = id && document.getElementById(decodeURIComponent(id));
    for (var node = target; node; node = node.parentElement) {
      if (node.tagName === "DETAILS") { node.open = true; }
    }
    var inner = target && target.querySelector(":scope > details.mlw-stage");  /* a link to the stage itself */
    if (inner) { inner.open = true; }
    return target;
  }
  function follow() {
    var target = openAround(location.hash.slice(1));
    if (target) { target.scrollIntoView(); }
  }
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest('a[href^="#"]');
    if (link) { openAround(link.getAttribute("href").slice(1)); }
  });
  window.addEventListener("hashchange", follow);
  window.addEventListener("beforeprint", function () { stages.forEach(function (d) { d.open = true; }); });
  var contents = document.getElementById("contents");
  if (contents) {
    var bar = document.createElement("p");
    bar.className = "mlw-fold-all";
    [["Open every stage", true], ["Fold every stage", false]].forEach(function (choice) {
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = choice[0];
      button.className = "mlw-fold-button";
      button.addEventListener("click", function () { stages.forEach(function (d) { d.open = choice[1]; }); });
      bar.appendChild(button);
    });
    contents.appendChild(bar);
  }
  if (location.hash) { follow(); }
})();
