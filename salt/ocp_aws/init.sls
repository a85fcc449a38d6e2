{#-
  Applies the ocp_aws pillar: `salt-call state.apply ocp_aws [test=True]`.

  The ocp-aws binary validates the pillar and expands it into states in apply order (ocp_aws.expand);
  this template only loops over its answer. An invalid pillar becomes one failing state that lists
  every error with its pillar path, in test mode too (hence configurable_test_state, whose comment
  survives test mode, rather than fail_without_changes).
-#}
{%- set plan = salt['ocp_aws.expand']() %}
{%- if plan['errors'] %}
ocp_aws pillar:
  test.configurable_test_state:
    - changes: False
    - result: False
    - allow_test_mode_failure: True
    - comment: {{ ("The ocp_aws pillar is invalid: " ~ plan['errors'] | join('; ')) | tojson }}
{%- elif not plan['states'] %}
ocp_aws pillar:
  test.succeed_without_changes:
    - comment: The ocp_aws pillar declares no resources.
{%- else %}
{%- for state in plan['states'] %}

{{ state['id'] | tojson }}:
  ocp_aws.{{ state['function'] }}:
    - name: {{ state['name'] | tojson }}
  {%- for key, value in state['params'].items() %}
    - {{ key }}: {{ value | tojson }}
  {%- endfor %}
  {%- if state['require'] %}
    - require:
    {%- for id in state['require'] %}
      - ocp_aws: {{ id | tojson }}
    {%- endfor %}
  {%- endif %}
{%- endfor %}
{%- endif %}
