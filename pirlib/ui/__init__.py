"""Display pieces for notebooks and dashboards: the boards (boards/), plotly figure builders (figures), the
timeline figure and editor, and the one HTML module (html) that escapes text and builds links and tables."""
