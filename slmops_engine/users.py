"""The people who may sign in to a shared dashboard: added and removed from the command line, stored with a bcrypt
hash of their password only (the hash streamlit-authenticator checks at sign-in)."""

from __future__ import annotations

import re

from sqlmodel import col, select

from .db import session_scope
from .errors import ConfigError, NotFoundError
from .models import User

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,79}$")
MIN_PASSWORD = 8


def hash_password(password: str) -> str:
    import bcrypt

    return bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()


def password_matches(password: str, hashed: str) -> bool:
    import bcrypt

    return bcrypt.checkpw(password.encode(), hashed.encode())


def add_user(name: str, password: str) -> User:
    if not NAME.match(name):
        raise ConfigError(
            f"'{name}' cannot be a user name", "Use letters, digits, '.', '_', '-' or '@' (up to 80 characters)."
        )
    if len(password) < MIN_PASSWORD:
        raise ConfigError(f"The password is shorter than {MIN_PASSWORD} characters", "Choose a longer one.")
    with session_scope() as s:
        if s.exec(select(User).where(User.name == name)).first() is not None:
            raise ConfigError(f"User '{name}' exists already", f"Remove it first: slmops users remove {name}")
        user = User(name=name, password_hash=hash_password(password))
        s.add(user)
    return user


def remove_user(name: str) -> None:
    with session_scope() as s:
        user = s.exec(select(User).where(User.name == name)).first()
        if user is None:
            raise NotFoundError(f"No user '{name}'", "List them with `slmops users list`.")
        s.delete(user)


def list_users() -> list[User]:
    with session_scope() as s:
        return list(s.exec(select(User).order_by(col(User.name))).all())


def credentials() -> dict:
    """The users in the shape streamlit-authenticator reads (hashes only)."""
    return {"usernames": {u.name: {"name": u.name, "password": u.password_hash} for u in list_users()}}
