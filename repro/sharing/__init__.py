"""Sharing a sweep: its W&B report run, its dashboards, and pruned models that are smaller and load anywhere.

- :mod:`.report_run`: one W&B run per sweep (job type ``report``) carrying the aggregator's tables, figures
  and tidy table;
- :mod:`.dashboards` and :mod:`.wandb_reports`: one W&B Report per paper, as a plain specification first
  (written into the sweep folder) and as a ``wandb-workspaces`` object from it;
- :mod:`.sparse`, :mod:`.forms`: a step's model as a compressed sparse file and as the shallower network's
  ``torch.export`` program, with what each form costs.

The command-line modules are :mod:`repro.aggregate` (``--wandb``), :mod:`repro.dashboard` and
:mod:`repro.export`.
"""
