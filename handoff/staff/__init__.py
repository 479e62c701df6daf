"""The staff: agents', supervisors' and editors' accounts, roles and sign-in.

- ``roster.py``: `StaffAccounts`, the one owner of every change to an account (add, disable, enable, a new
  password, roles, ending its sessions), with the listeners an audit log hooks into.
- ``accounts.py``: `AgentAuth`, sign-in and sessions (checked, ended, expired), and the roles.
- ``passwords.py``: the rules of a new password and scrypt hashing on threads of its own.
"""
