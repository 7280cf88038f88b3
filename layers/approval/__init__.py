"""The approval check (CIM+工程建设项目审批, issue 11): a proposed project against the CIM.

- :mod:`.project` the project (site, new buildings, demolitions, green areas) parsed and
  validated from plain features (a file read by ``loaders.project``, or process GeoJSON)
- :mod:`.config` the rules file ``cim/dictionaries/approval_rules.yaml``
- :mod:`.data` the current planning parcels, control lines, height zones, buildings and pipes
  near the site; :mod:`.rules_place`, :mod:`.rules_indices` the rules; :mod:`.check` runs them
- :mod:`.report` the HTML report with its map; :mod:`.record` the ``approval_checks`` table;
  :mod:`.process` the OGC API process ``approval-check``
"""
