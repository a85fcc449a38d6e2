#!jinja|json
{#
  Applies the ocp_aws Pillar: `state.apply ocp_aws [test=True]` (salt-call, salt-ssh, a minion), or
  `salt-run state.orchestrate ocp_aws.orchestrate` on a master. ocp_aws.s3, ocp_aws.iam, ... apply
  one service's part. See map.jinja.
-#}
{%- from tpldir ~ "/map.jinja" import render with context %}
{{- render(none) }}
