"""dspex worker: serves DSPy modules to the dspex runtime over NATS."""

import os

# Before anything imports DSPy/litellm: litellm would otherwise fetch a price list over the network.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

__version__ = "0.1.0"
