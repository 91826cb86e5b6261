"""Interchange: data·inclusion v1 export and import, operators' CSV import, HSDS-shaped reads.

Every imported row goes through the directory's use cases (`register_member`,
`publish_offer`), one transaction per member or offer, so each emits its event through the
outbox and the access rules apply. Reports say, per rejected item, where it is and why, in
French.
"""
