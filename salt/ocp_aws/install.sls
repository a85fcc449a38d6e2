{#-
  Installs the ocp-aws binary where `ocp_aws.binary` says (default /usr/local/bin/ocp-aws), from the
  minion configuration or Pillar key `ocp_aws.install`, one of:

    ocp_aws.install:
      source: https://example.org/ocp-aws-x86_64-linux   # any file.managed source (salt://, https://, file://)
      source_hash: sha256=...                            # required: the file is checked before it is used

    ocp_aws.install:
      cargo: {git: https://example.org/ocp-aws.git, rev: v0.1.0}   # or {path: /src/ocp-aws}

  The ocp_aws formula includes this state, and runs after it, when `ocp_aws.install` is set and the
  binary is not there yet; it is never needed to render the formula.
-#}
{%- set install = salt['config.get']('ocp_aws.install') or {} %}
{%- set binary = salt['config.get']('ocp_aws.binary') or '/usr/local/bin/ocp-aws' %}
{%- if install.get('source') and install.get('source_hash') %}

ocp-aws binary:
  file.managed:
    - name: {{ binary | tojson }}
    - source: {{ install['source'] | tojson }}
    - source_hash: {{ install['source_hash'] | tojson }}
    - mode: "0755"
    - makedirs: True
{%- elif install.get('cargo') %}
{%- set cargo = install['cargo'] %}
{%- set root = binary.rsplit('/', 1)[0].rsplit('/', 1)[0] %}

ocp-aws binary:
  cmd.run:
    - name: >-
        cargo install --locked --root {{ root | quote }}
        {%- if cargo.get('path') %} --path {{ cargo['path'] | quote }}
        {%- else %} --git {{ cargo['git'] | quote }}{% if cargo.get('rev') %} --rev {{ cargo['rev'] | quote }}{% endif %}
        {%- endif %} ocp-aws
    - creates: {{ binary | tojson }}
{%- else %}

ocp-aws binary:
  test.configurable_test_state:
    - changes: False
    - result: False
    - allow_test_mode_failure: True
    - comment: >-
        Set ocp_aws.install to install the ocp-aws binary: source and source_hash (a checksum-verified
        file), or cargo (git and rev, or path).
{%- endif %}
