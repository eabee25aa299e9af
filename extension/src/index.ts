/**
 * groundlab-widgets: a JupyterLab 4 MIME renderer extension for groundlab's outputs
 * (application/vnd.groundlab.{inspector,timeline,circuit,das,bindinggrid}+json: the inspector, the
 * checkpoint timeline, the circuit graph, the DAS panel and the binding grid), and for Vega-Lite 5
 * figures in the colours of the current theme.
 */
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Widget } from '@lumino/widgets';
import { InspectorView } from './inspector';
import { BINDING_GRID_MIME, CIRCUIT_MIME, DAS_MIME, INSPECTOR_MIME, TIMELINE_MIME } from './payload';
import { TimelineView } from './timeline';
import { CircuitView } from './circuit';
import { DasView } from './das';
import { BindingGridView } from './bindinggrid';
import { VegaLiteFigure, VEGALITE5_MIME } from './vegalite';

export { InspectorView } from './inspector';
export { TimelineView } from './timeline';
export { CircuitView } from './circuit';
export { DasView } from './das';
export { BindingGridView } from './bindinggrid';
export { VegaLiteFigure, VEGALITE5_MIME } from './vegalite';
export * from './payload';

/** 'canvas' where the page can draw on one (fast), else 'svg'. */
export function pickRenderer(): 'canvas' | 'svg' {
  try {
    return document.createElement('canvas').getContext('2d') ? 'canvas' : 'svg';
  } catch {
    return 'svg';
  }
}

type View = InspectorView | TimelineView | VegaLiteFigure | CircuitView | DasView | BindingGridView;
type ViewClass = new (host: HTMLElement, data: unknown, options: { renderer?: 'canvas' | 'svg' }) => View;
/** The view of each groundlab MIME type (Vega-Lite figures are made apart: they take a spec). */
const VIEWS: Record<string, ViewClass> = {
  [INSPECTOR_MIME]: InspectorView,
  [TIMELINE_MIME]: TimelineView,
  [CIRCUIT_MIME]: CircuitView,
  [DAS_MIME]: DasView,
  [BINDING_GRID_MIME]: BindingGridView,
};

/** One output: an inspector, a timeline, a circuit graph, a DAS panel or a binding grid, chosen by MIME type. */
export class GroundlabRenderer extends Widget implements IRenderMime.IRenderer {
  private readonly mimeType: string;
  private view: View | null = null;

  constructor(options: IRenderMime.IRendererOptions) {
    super();
    this.mimeType = options.mimeType;
    this.addClass('jp-GroundlabWidget');
    // keys typed in the widgets' controls (arrows on a slider, letters in a select) must not run
    // notebook command-mode shortcuts (ArrowRight is bound to "expand heading" there)
    this.node.setAttribute('data-lm-suppress-shortcuts', 'true');
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    this.view?.dispose();
    this.view = null;
    const data = model.data[this.mimeType];
    const host = document.createElement('div');
    this.node.textContent = '';
    this.node.appendChild(host);
    try {
      const options = { renderer: pickRenderer() };
      const View = VIEWS[this.mimeType];
      this.view = View ? new View(host, data, options) : new VegaLiteFigure(host, data as Record<string, unknown>, options);
      // expose the view to UI tests and to the browser console
      (host as unknown as { __groundlab: unknown }).__groundlab = this.view;
      await this.view.ready;
    } catch (e) {
      host.className = 'gl-error';
      host.textContent = `groundlab-widgets cannot show this output: ${e instanceof Error ? e.message : String(e)}`;
    }
  }

  dispose(): void {
    this.view?.dispose();
    this.view = null;
    super.dispose();
  }
}

export const rendererFactory: IRenderMime.IRendererFactory = {
  safe: true,
  // Vega-Lite too: drawn in the theme's colours and redrawn when it changes (JupyterLab's own Vega
  // renderer, rank 57, keeps the theme it first drew with)
  mimeTypes: [INSPECTOR_MIME, TIMELINE_MIME, CIRCUIT_MIME, DAS_MIME, BINDING_GRID_MIME, VEGALITE5_MIME],
  defaultRank: 20,
  createRenderer: (options) => new GroundlabRenderer(options),
};

const extension: IRenderMime.IExtension = {
  id: 'groundlab-widgets:renderers',
  description:
    'The groundlab attention/saliency inspector, checkpoint timeline, circuit graph, DAS panel and binding grid, and theme-following Vega-Lite figures',
  rendererFactory,
  rank: 20,
  dataType: 'json',
};

export default extension;
