// Shared lightweight-charts setup: the library (copied from the npm package into
// /static/vendor/ by `npm run vendor`) and the dark theme every chart on the page uses.

export * from '../vendor/lightweight-charts.mjs';
import { ColorType, CrosshairMode } from '../vendor/lightweight-charts.mjs';

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
      background: { type: ColorType.Solid, color: 'transparent' },
      textColor: COLORS.text,
      fontSize: 11,
      fontFamily: getComputedStyle(document.body).fontFamily,
      attributionLogo: true,
    },
    grid: { vertLines: { color: COLORS.grid }, horzLines: { color: COLORS.grid } },
    rightPriceScale: { borderColor: COLORS.border },
    timeScale: { borderColor: COLORS.border, timeVisible: true, secondsVisible: false },
    crosshair: { mode: CrosshairMode.Normal },
    ...extra,
  };
}
