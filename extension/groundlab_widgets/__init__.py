"""groundlab-widgets: the JupyterLab extension that renders groundlab's inspector and timeline outputs.

The Python package only ships the prebuilt labextension (groundlab_widgets/labextension); JupyterLab
finds it in share/jupyter/labextensions/groundlab-widgets after `pip install`.
"""

__version__ = "0.1.0"


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": "groundlab-widgets"}]
