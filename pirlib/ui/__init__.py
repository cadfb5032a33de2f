"""Display pieces for notebooks and dashboards: plotly figure builders (figures) and dashboard helpers."""
