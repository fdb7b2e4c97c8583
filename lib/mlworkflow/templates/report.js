(function () {
  var button = document.getElementById("mlw-toggle-code");
  if (!button) { return; }
  function label() {
    button.textContent = document.body.classList.contains("mlw-hide-code") ? "Show code" : "Hide code";
  }
  label();
  button.addEventListener("click", function () {
    document.body.classList.toggle("mlw-hide-code");
    label();
  });
})();
