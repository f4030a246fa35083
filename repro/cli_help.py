"""``python -m repro.run --help``: the groups a user chooses from, and their options.

Hydra's own help would also list the internal ``schema/*`` groups and the preset fragments; this one reads
the groups of the root config's defaults list, the presets under ``conf/experiment/`` and the launchers.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

USAGE = """\
repro: reproduce pruning papers and run new model x dataset x pruner x metric combinations.

  python -m repro.run [group=option ...] [key=value ...]          one job
  python -m repro.run -m group=a,b key=1,2 ...                    a sweep (every combination)
  python -m repro.sweep sweeps/<name>.yaml [key=value ...]         a paper's table or figure
  python -m repro.run --cfg job [overrides]                        print the composed config

Config groups (default in brackets):
"""


def options(conf: Path, group: str) -> list[str]:
    folder = conf / group
    return sorted(str(p.relative_to(folder).with_suffix("")) for p in folder.rglob("*.yaml"))


def help_text(conf: Path) -> str:
    root = OmegaConf.load(conf / "config.yaml")
    lines = [USAGE]
    for entry in root.get("defaults", []):
        if not isinstance(entry, dict | type(OmegaConf.create({}))):
            continue
        for group, default in entry.items():
            chosen = options(conf, str(group))
            marked = [f"[{o}]" if o == default else o for o in chosen]
            lines.append(f"  {group}: {', '.join(marked)}")
    launchers = ["basic", "joblib", *options(conf, "hydra/launcher")]
    lines.append(f"  hydra/launcher: [basic], {', '.join(launchers[1:])}")
    lines.append("\nAny key of the composed config can be set (see --cfg job); an unknown key is an error.")
    return "\n".join(lines)
