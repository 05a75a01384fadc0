"""The web catalog: server-rendered pages with JSON twins, and the same pages as a static site."""
