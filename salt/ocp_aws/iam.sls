#!jinja|json
{# One service's part of the ocp_aws Pillar, named after this file (ocp_aws.s3: `s3`). See map.jinja. -#}
{%- from tpldir ~ "/map.jinja" import render with context %}
{{- render(sls.split('.')[-1]) }}
