"""The staff: agents', supervisors' and editors' accounts, roles and sign-in, and the audit log of their actions.

- ``roster.py``: `StaffAccounts`, the one owner of every change to an account (add, disable, enable, a new
  password, roles, ending its sessions); each change is an entry of the audit log (``staff.*``).
- ``accounts.py``: `AgentAuth`, sign-in and sessions (checked, ended, expired), and the roles.
- ``passwords.py``: the rules of a new password and scrypt hashing on threads of its own.
- ``audit.py``: the audit log of staff actions.
"""
