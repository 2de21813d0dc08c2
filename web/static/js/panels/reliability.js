// The reliability chart of research confidence: for each confidence bin, the observed hit rate
// against the diagonal of perfect calibration. Drawn with lightweight-charts' options chart (a
// numeric horizontal axis), so no chart on the page is drawn by hand. Points sit at the bins'
// midpoints, which are evenly spaced as the library spaces points; empty bins leave a gap.

import { CHARTS_MISSING, COLORS, charts, themeOptions } from '../charts.js';

const FULL_RANGE = () => ({ priceRange: { minValue: 0, maxValue: 100 } });

export class ReliabilityChart {
  constructor() {
    this.chart = null;
    this.host = null;
    this.observer = null;
  }

  show(host, bins) {
    if (!charts) {
      host.textContent = CHARTS_MISSING;
      host.dataset.chart = 'unavailable';
      return;
    }
    const { LineSeries, LineStyle, createOptionsChart } = charts;
    if (this.host !== host) {
      this.chart?.remove();
      this.observer?.disconnect();
      this.host = host;
      this.chart = createOptionsChart(host, themeOptions({
        timeScale: { borderColor: COLORS.border },
        localization: { priceFormatter: (v) => `${Math.round(v)}%` },
        handleScroll: false,
        handleScale: false,
      }));
      this.ideal = this.chart.addSeries(LineSeries, {
        color: '#5e6879', lineWidth: 1, lineStyle: LineStyle.Dashed, lastValueVisible: false,
        priceLineVisible: false, crosshairMarkerVisible: false, autoscaleInfoProvider: FULL_RANGE,
      });
      this.observed = this.chart.addSeries(LineSeries, {
        color: COLORS.accent, lineWidth: 2, pointMarkersVisible: true, pointMarkersRadius: 3,
        lastValueVisible: false, priceLineVisible: false, autoscaleInfoProvider: FULL_RANGE,
      });
      // The chart may be built in a hidden tab: fit it once it has a size.
      this.observer = new ResizeObserver(() => this.chart?.timeScale().fitContent());
      this.observer.observe(host);
    }
    const scale = bins.every((b) => Number(b.upper ?? 100) <= 1) ? 100 : 1; // 0–1 or 0–100
    const ideal = [];
    const observed = [];
    for (const bin of [...bins].sort((a, b) => a.lower - b.lower)) {
      const middle = Math.round(((Number(bin.lower) + Number(bin.upper)) / 2) * scale * 100) / 100;
      if (!Number.isFinite(middle) || (ideal.length && middle <= ideal[ideal.length - 1].time)) continue;
      ideal.push({ time: middle, value: middle });
      const rate = bin.hit_rate ?? bin.win_rate;
      observed.push(Number(bin.count) > 0 && typeof rate === 'number'
        ? { time: middle, value: rate <= 1 ? rate * 100 : rate }
        : { time: middle });
    }
    this.ideal.setData(ideal);
    this.observed.setData(observed);
    this.chart.timeScale().fitContent();
  }

  resize() {
    this.chart?.timeScale().fitContent();
  }
}
