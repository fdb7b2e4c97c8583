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
