'use strict';
// plotly.js with the trace types pir's dashboards draw (pirlib/ui/figures.PAGE_TRACE_TYPES) and no others.
// The core brings scatter and every component (legend, hover, buttons, annotations, ...).
var Plotly = require('plotly.js/lib/core');

Plotly.register([require('plotly.js/lib/bar'), require('plotly.js/lib/box'), require('plotly.js/lib/heatmap')]);

module.exports = Plotly;
