// Search of the exported site: runs over window.RULEDEX_INDEX from search-index.js.
// Supports words (all must match) and the filters vendor:, level:, status:, kind:,
// technique: and tactic:. Field conditions need the server.
(function () {
  "use strict";
  var FILTERS = ["vendor", "level", "status", "kind", "technique", "tactic"];
  var LIMIT = 200;

  function parse(text) {
    var query = {words: [], filters: {}};
    (text.match(/"[^"]*"|\S+/g) || []).forEach(function (token) {
      var bare = token.replace(/^"|"$/g, "");
      var cut = bare.indexOf(":");
      var key = cut > 0 ? bare.slice(0, cut).toLowerCase() : "";
      if (token[0] !== '"' && FILTERS.indexOf(key) >= 0 && cut < bare.length - 1) {
        (query.filters[key] = query.filters[key] || []).push(bare.slice(cut + 1).toLowerCase());
      } else if (bare) {
        query.words.push(bare.toLowerCase().replace(/\*$/, ""));
      }
    });
    return query;
  }

  function matches(rule, query) {
    var ok = Object.keys(query.filters).every(function (key) {
      var wanted = query.filters[key];
      var have = key === "technique" ? rule.techniques : key === "tactic" ? rule.tactics
               : [rule[key]];
      return wanted.some(function (w) {
        return have.some(function (h) {
          h = String(h).toLowerCase();
          return h === w || (key === "technique" && h.indexOf(w + ".") === 0);
        });
      });
    });
    if (!ok) return false;
    var text = rule.text || (rule.text = (rule.title + " " + rule.description + " " +
                                          rule.id + " " + rule.techniques.join(" ")).toLowerCase());
    return query.words.every(function (w) { return text.indexOf(w) >= 0; });
  }

  function badge(text, cls) {
    var span = document.createElement("span");
    span.className = "badge " + cls;
    span.textContent = text;
    return span;
  }

  function render(results, root, list, status, total) {
    list.textContent = "";
    status.textContent = total + (total === 1 ? " rule" : " rules") +
      (total > results.length ? ", first " + results.length + " shown" : "");
    results.forEach(function (rule) {
      var item = document.createElement("li");
      item.className = "result";
      var heading = document.createElement("h3");
      var link = document.createElement("a");
      link.href = root + rule.href;
      link.textContent = rule.title;
      heading.appendChild(link);
      var meta = document.createElement("p");
      meta.className = "result-meta";
      meta.appendChild(badge(rule.vendor, "vendor vendor-" + rule.vendor));
      meta.appendChild(document.createTextNode(" "));
      if (rule.level) meta.appendChild(badge(rule.level, "level level-" + rule.level));
      meta.appendChild(document.createTextNode(" " + rule.techniques.join(" ")));
      var snippet = document.createElement("p");
      snippet.className = "snippet";
      snippet.textContent = rule.description;
      item.appendChild(heading);
      item.appendChild(meta);
      item.appendChild(snippet);
      list.appendChild(item);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("static-search");
    var index = window.RULEDEX_INDEX;
    if (!box || !index) return;
    var root = box.getAttribute("data-root") || "";
    var list = document.getElementById("static-search-results");
    var status = document.getElementById("static-search-status");
    var input = document.getElementById("q-main");
    var text = new URLSearchParams(window.location.search).get("q") || "";
    input.value = text;
    document.querySelectorAll('input[name="q"]').forEach(function (i) { i.value = text; });
    function run() {
      var query = parse(input.value);
      if (!query.words.length && !Object.keys(query.filters).length) {
        list.textContent = "";
        status.textContent = index.length + " rules in the index";
        return;
      }
      var found = index.filter(function (rule) { return matches(rule, query); });
      render(found.slice(0, LIMIT), root, list, status, found.length);
    }
    input.addEventListener("input", run);
    run();
  });
})();
