# Installed into the course environment's etc/ipython/, where every IPython kernel of that
# environment reads it at start. A kernel JupyterLab opens for a lesson that uses TensorFlow
# begins importing it at once, in the background (gradclinic.runtime.preload_tensorflow).
c = get_config()  # noqa: F821  (IPython defines it for config files)
c.IPKernelApp.exec_lines = [
    "import gradclinic.runtime as _gradclinic_runtime",
    "_gradclinic_runtime.preload_tensorflow()",
    "del _gradclinic_runtime",
]
