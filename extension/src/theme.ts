/** Colours for vega from JupyterLab's CSS variables, so figures follow the light or dark theme. */
export interface ThemeColors {
  text: string;
  muted: string;
  border: string;
  background: string;
  accent: string;
  font: string;
  /** Token-kind colours (the widget's --gl-env / --gl-lan, which follow the theme). */
  env: string;
  lan: string;
}

function cssVar(el: Element, name: string, fallback: string): string {
  const v = typeof getComputedStyle === 'function' ? getComputedStyle(el).getPropertyValue(name).trim() : '';
  return v || fallback;
}

export function themeColors(el: Element): ThemeColors {
  return {
    text: cssVar(el, '--jp-ui-font-color1', '#222222'),
    muted: cssVar(el, '--jp-ui-font-color2', '#616161'),
    border: cssVar(el, '--jp-border-color1', '#bdbdbd'),
    background: cssVar(el, '--jp-layout-color0', '#ffffff'),
    accent: cssVar(el, '--jp-error-color1', '#d32f2f'),
    font: cssVar(el, '--jp-ui-font-family', 'sans-serif'),
    env: cssVar(el, '--gl-env', '#e8590c'),
    lan: cssVar(el, '--gl-lan', '#1c7ed6'),
  };
}

/** A vega config block for these colours. */
export function vegaConfig(c: ThemeColors): Record<string, unknown> {
  const axis = {
    labelColor: c.muted,
    titleColor: c.text,
    domainColor: c.border,
    tickColor: c.border,
    gridColor: c.border,
    labelFont: c.font,
    titleFont: c.font,
  };
  return {
    background: null,
    font: c.font,
    view: { stroke: null },
    axis,
    legend: { labelColor: c.muted, titleColor: c.text, labelFont: c.font, titleFont: c.font },
    title: { color: c.text, font: c.font },
    header: { labelColor: c.text, titleColor: c.text },
  };
}

/** Calls `fn` when JupyterLab switches between light and dark themes. Returns a disposer. */
export function onThemeChange(fn: () => void): () => void {
  if (typeof MutationObserver === 'undefined' || typeof document === 'undefined') return () => undefined;
  const obs = new MutationObserver(() => fn());
  obs.observe(document.body, { attributes: true, attributeFilter: ['data-jp-theme-light', 'data-jp-theme-name'] });
  return () => obs.disconnect();
}
