"""Where trigger definitions come from: the YAML file and the compacted ``{prefix}._triggers`` topic."""
