{#-
  On a master: `salt-run saltutil.sync_all`, then `salt-run state.orchestrate ocp_aws.orchestrate`.
  The states run on the master itself, with the master's Pillar (or `pillar=`), so secret files are
  written straight into the master's Pillar tree. Cloud resources belong to no minion.
-#}
include:
  - {{ tpldir | replace('/', '.') }}
