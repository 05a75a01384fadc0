// Filters the feasibility form's event checkboxes; the form works without it.
(function () {
  "use strict";

  function matches(element, needle) {
    return element.textContent.toLowerCase().indexOf(needle) >= 0;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var input = document.getElementById("event-filter");
    var root = input && document.getElementById(input.getAttribute("data-filter-events"));
    if (!root) return;
    var groups = Array.prototype.slice.call(root.querySelectorAll("details.event-group"));
    var openAtFirst = groups.map(function (group) { return group.open; });
    input.closest(".filter-row").hidden = false;
    // Enter in the filter would submit the form half-chosen.
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter") event.preventDefault();
    });
    input.addEventListener("input", function () {
      var needle = input.value.trim().toLowerCase();
      groups.forEach(function (group, index) {
        var wholeGroup = needle !== "" && matches(group.querySelector("summary"), needle);
        var shown = 0;
        group.querySelectorAll("li").forEach(function (item) {
          var hit = needle === "" || wholeGroup || matches(item, needle);
          item.hidden = !hit;
          if (hit) shown += 1;
        });
        group.hidden = shown === 0;
        group.open = needle === "" ? openAtFirst[index] : shown > 0;
      });
    });
  });
})();
