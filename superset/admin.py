"""Superset's side of `lakehouse superset`: runs in Superset's own environment (.venv-superset), never imported by the
lakehouse package.

    python superset/admin.py setup                    migrate the metadata database, create or update the admin,
                                                      sync roles
    python superset/admin.py import BUNDLE.zip        import the assets bundle, replacing what an earlier import made
    python superset/admin.py setup import BUNDLE.zip  both, in one process

One process does all of it (each `superset` CLI call would pay Superset's start-up again). The admin's name and
password come from SUPERSET_ADMIN_USER and SUPERSET_ADMIN_PASSWORD; the database's password, where it has one (Trino
over HTTPS), from LAKEHOUSE_SUPERSET_DATABASE_PASSWORD, since the bundle holds it masked. Every step prints one JSON
line; a failure prints {"error": ...} with the reasons Superset gave and exits 1.
"""

import json
import logging
import os
import sys
import time
import zipfile


def say(**fields):
    print(json.dumps(fields), flush=True)


def setup(app):
    from flask_migrate import upgrade
    from superset.extensions import appbuilder, db
    from werkzeug.security import check_password_hash

    from superset import security_manager

    clock = time.perf_counter()
    upgrade()
    say(step="metadata database migrated", seconds=round(time.perf_counter() - clock, 1))

    username = os.environ.get("SUPERSET_ADMIN_USER", "admin")
    password = os.environ["SUPERSET_ADMIN_PASSWORD"]
    user = security_manager.find_user(username=username)
    if user is None:
        role = security_manager.find_role(security_manager.auth_role_admin)
        user = security_manager.add_user(username, "Lakehouse", "Admin", f"{username}@localhost", role, password)
        if not user:
            say(error=f"could not create the Superset user {username!r}")
            sys.exit(1)
        say(step="admin created", user=username)
    elif not check_password_hash(user.password, password):
        security_manager.reset_password(user.id, password)
        say(step="admin password updated", user=username)

    clock = time.perf_counter()
    appbuilder.add_permissions(update_perms=True)
    security_manager.sync_role_definitions()
    db.session.commit()
    say(step="roles synced", seconds=round(time.perf_counter() - clock, 1))


def import_bundle(app, path):
    from flask import g
    from superset.commands.exceptions import CommandInvalidError
    from superset.commands.importers.v1.assets import ImportAssetsCommand
    from superset.commands.importers.v1.utils import get_contents_from_bundle

    from superset import security_manager

    with zipfile.ZipFile(path) as bundle:
        contents = get_contents_from_bundle(bundle)
    g.user = security_manager.find_user(username=os.environ.get("SUPERSET_ADMIN_USER", "admin"))
    password = os.environ.get("LAKEHOUSE_SUPERSET_DATABASE_PASSWORD")
    passwords = {name: password for name in contents if name.startswith("databases/")} if password else {}
    clock = time.perf_counter()
    try:
        ImportAssetsCommand(contents, passwords=passwords).run()
    except CommandInvalidError as exc:
        say(error=f"Superset rejected {path}", reasons=exc.normalized_messages())
        sys.exit(1)
    except Exception as exc:  # Superset wraps everything else in ImportFailedError; say what it was
        cause = exc.__cause__ or exc
        say(error=f"importing {path} failed: {type(cause).__name__}: {cause}")
        sys.exit(1)
    say(step="assets imported", files=len(contents), seconds=round(time.perf_counter() - clock, 1))


def main(argv):
    do_setup = bool(argv) and argv[0] == "setup"
    rest = argv[1:] if do_setup else argv
    bundle = rest[1] if len(rest) == 2 and rest[0] == "import" else None
    if (rest and bundle is None) or not (do_setup or bundle):
        say(error="usage: admin.py [setup] [import BUNDLE.zip]")
        sys.exit(2)
    logging.disable(logging.WARNING)
    from superset.app import create_app

    app = create_app()
    with app.app_context():
        if do_setup:
            setup(app)
        if bundle:
            import_bundle(app, bundle)


if __name__ == "__main__":
    main(sys.argv[1:])
