// Shared lightweight-charts setup: the library (the pinned build committed under
// /static/vendor/, see its README.md) and the dark theme every chart on the page uses.
//
// The library is loaded here with a dynamic import, so that a file that fails to load takes
// down only the charts: `charts` is then null, `chartsError` says why, and each chart shows
// that in its own box while every other panel keeps working.

let library = null;
let failure = '';
try {
  library = await import('../vendor/lightweight-charts.mjs');
} catch (error) {
  failure = String(error?.message || error);
}

/** The lightweight-charts module, or null when it could not be loaded. */
export const charts = library;
/** Why the library could not be loaded ('' when it was). */
export const chartsError = failure;
/** What a chart box says in place of a chart when the library did not load. */
export const CHARTS_MISSING = `The chart library did not load (${failure}), so charts are off; `
  + 'every other panel works. Reinstall Ensemble or check /static/vendor/.';

export const COLORS = {
  up: '#22c07a',
  down: '#f0506e',
  text: '#8a94a6',
  grid: '#1b222d',
  border: '#232b38',
  accent: '#4c8dff',
  warn: '#f2a93b',
  entry: '#c9d1dd',
};

export function themeOptions(extra = {}) {
  return {
    autoSize: true,
    layout: {
      background: { type: charts.ColorType.Solid, color: 'transparent' },
      textColor: COLORS.text,
      fontSize: 11,
      fontFamily: getComputedStyle(document.body).fontFamily,
      attributionLogo: true,
    },
    grid: { vertLines: { color: COLORS.grid }, horzLines: { color: COLORS.grid } },
    rightPriceScale: { borderColor: COLORS.border },
    timeScale: { borderColor: COLORS.border, timeVisible: true, secondsVisible: false },
    crosshair: { mode: charts.CrosshairMode.Normal },
    ...extra,
  };
}
