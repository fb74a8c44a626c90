-- Why: erasing a contact on request (python -m services.notifications erase-contact) is an
-- operator's decision like replaying a dead letter: kept with who took it, when and why.
ALTER TABLE operator_audit DROP CONSTRAINT operator_audit_action_check;
ALTER TABLE operator_audit ADD CONSTRAINT operator_audit_action_check
    CHECK (action IN ('dlq-replay', 'dlq-discard', 'outbox-release', 'outbox-discard', 'contact-erase'));
