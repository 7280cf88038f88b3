"""The city-operations case loop (运管服, issue 14): cases found by inspectors, sensors and
citizens, registered, dispatched, handled, verified and closed under a state machine kept as
data (cim/dictionaries/case_workflow.yaml), with the people of the loop authenticated by
tokens (:mod:`layers.cases.auth`)."""
