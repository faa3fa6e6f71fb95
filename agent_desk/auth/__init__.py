"""Who may do what: password hashing, login sessions, roles, masking of personal data, and the audit log."""
