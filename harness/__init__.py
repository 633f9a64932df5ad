"""harness: agents never decide that they are done.

The package is laid out as the process it implements:

- planning: (later issues) grill, prd, slice
- run: ``pipeline`` drives contract -> red -> test review -> green -> evaluation, with the
  decisions in ``tdd_gate`` and ``contract`` and the agents behind ``agent``
- shared services: ``model`` (the one seam to the Anthropic SDK), ``workspace`` (the six
  workspace tools), ``gitops``, ``testrunner``, ``artifacts``, ``trace``, ``pricing``
"""

__version__ = "0.1.0"
