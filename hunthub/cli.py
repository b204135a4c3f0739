"""The `hunthub` command."""

from __future__ import annotations

import argparse
from pathlib import Path

from traitlets.config import Config

from hunthub import __version__
from hunthub.settings import SYSTEM_CONFIG, HuntHub, load_config


def _flags(args) -> Config:
    """The command line's settings: a config layer over the environment and the config files."""
    flags = Config()
    for name in ("state_dir", "port", "ip", "spark_master", "spawner"):
        value = getattr(args, name, None)
        if value is not None:
            flags.HuntHub[name] = value
    if getattr(args, "demo", False):
        flags.HuntHub.demo = True
    if getattr(args, "self_signed", False):
        flags.HuntHub.ssl_self_signed = True
    return flags


def _settings(args) -> HuntHub:
    files = None
    if getattr(args, "config", None):
        given = Path(args.config).absolute()
        if not given.is_file():
            raise SystemExit(f"hunthub: no config file at {given}")
        # in place of HUNTHUB_CONFIG's file, after the system-wide one
        files = [f for f in [Path(SYSTEM_CONFIG)] if f.is_file()] + [given]
    return HuntHub(config=load_config(files, flags=_flags(args)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hunthub", description="JupyterHub + Spark for security analysts.")
    parser.add_argument("--version", action="version", version=f"hunthub {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    common = argparse.ArgumentParser(add_help=False)
    # flags go over the config files and the environment (hunthub.settings.load_config)
    common.add_argument("--state-dir", help="state directory (env HUNTHUB_STATE_DIR)")
    common.add_argument("--config", help="hunthub config file (env HUNTHUB_CONFIG)")
    common.add_argument("--port", type=int, help="public port of the hub (default 8000)")
    common.add_argument("--ip", help="address the hub listens on (default 127.0.0.1)")
    common.add_argument("--spark-master", help="external cluster: spark://host:port or yarn (default: embedded)")

    up = sub.add_parser("up", parents=[common], help="run the embedded stack until Ctrl-C")
    up.add_argument("--demo", action="store_true", help="DEMO ONLY: accept any user name and password")
    up.add_argument("--self-signed", action="store_true", help="TRIAL ONLY: serve HTTPS with a self-signed certificate")
    up.add_argument(
        "--spawner",
        choices=["local", "docker"],
        help="analysts' servers as local processes or containers (env HUNTHUB_SPAWNER)",
    )
    images = sub.add_parser("images", help="hunthub's container images (analyst, Spark, hub)")
    images.add_argument(
        "images_args", nargs=argparse.REMAINDER, help="`build [options]`: see `hunthub images build -h`"
    )
    sub.add_parser("doctor", parents=[common], help="check this installation and say how to fix problems")

    data = sub.add_parser("data", help="datasets in the warehouse")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    gen_help = "write the synthetic security dataset (all sources, planted attacks) and its answer key"
    for name, help_ in (("generate", gen_help), ("demo", "the same as generate: (re)write the demo dataset")):
        _generate_arguments(data_sub.add_parser(name, parents=[common], help=help_, description=help_))

    from hunthub.ingest.command import add_parser as add_ingest_parser

    add_ingest_parser(sub, common)

    status = sub.add_parser(
        "status", parents=[common], help="who holds what: analysts' servers, kernels, Spark apps, cores, memory"
    )
    status.add_argument("--json", action="store_true", help="the same snapshot as JSON, for scripts")

    backup = sub.add_parser(
        "backup", parents=[common], help="save the hub database, catalog, approvals and secrets in one archive"
    )
    backup.add_argument("--to", help="archive to write (default <state>/backups/hunthub-<time>.tar.gz)")
    restore = sub.add_parser("restore", parents=[common], help="put a `hunthub backup` archive into the state dir")
    restore.add_argument("archive", help="the .tar.gz `hunthub backup` wrote")
    restore.add_argument("--force", action="store_true", help="replace an existing hub database (kept beside)")

    service = argparse.ArgumentParser(add_help=False)
    service.add_argument("--spawner", choices=["local", "docker"], help="as `hunthub up --spawner`")
    service.add_argument("--dir", default="/etc/systemd/system", help="where the units go (default %(default)s)")
    service.add_argument("--env-dir", default="/etc/hunthub", help="where the hub's environment file (0600) goes")
    service.add_argument("--unit-prefix", default="hunthub", help="units are <prefix>.service, <prefix>.target, ...")
    install = sub.add_parser(
        "install-service", parents=[common, service], help="write systemd units for the Spark cluster and the hub"
    )
    install.add_argument("--enable", action="store_true", help="also `systemctl enable --now` them (systemd only)")
    step = sub.add_parser("service-step", parents=[common, service], help="(run by hunthub's systemd units)")
    step.add_argument("step", choices=["prepare-spark", "prepare-hub", "stop-hub"])
    sub.add_parser(
        "upgrade-db",
        parents=[common],
        help="back up and upgrade a hub database an older JupyterHub made (`hunthub up` does it by itself)",
    )

    kernels = sub.add_parser("kernels", help="kernel specs")
    kernels.add_argument("action", choices=["install"], help="install hunthub's kernel specs into this environment")

    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "images":
        from hunthub import images as image_builder

        return image_builder.main(args.images_args)
    if args.command == "kernels":
        from hunthub import kernelspecs

        for path in kernelspecs.install():
            print(f"installed {path}")
        return 0
    s = _settings(args)
    if args.command == "up":
        from hunthub.stack import up as run_up

        return run_up(s)
    if args.command == "doctor":
        from hunthub.doctor import doctor

        return doctor(s)
    if args.command == "data" and args.data_command in ("generate", "demo"):
        from hunthub.data.cli import generate_command

        return generate_command(s, args)
    if args.command == "status":
        from hunthub.status import command as run_status

        return run_status(s, args)
    if args.command == "ingest":
        from hunthub.ingest.command import run as run_ingest

        return run_ingest(s, args)
    if args.command in ("install-service", "service-step"):
        return _service_command(s, args)
    if args.command in ("backup", "restore"):
        return _backup_command(s, args)
    if args.command == "upgrade-db":
        from hunthub.stack import upgrade_db

        return upgrade_db(s)
    parser.error("unknown command")
    return 2


def _service_command(s: HuntHub, args) -> int:
    from hunthub import service_units

    # the units call `hunthub` with the flags given here, so every start resolves the settings as this command
    # did; the state dir is pinned to the one resolved now (root's default, or the environment's)
    flags = ["--state-dir", str(s.state)]
    if args.config:
        flags += ["--config", str(Path(args.config).absolute())]
    for name in ("port", "ip", "spark_master", "spawner"):
        if getattr(args, name, None) is not None:
            flags += ["--" + name.replace("_", "-"), str(getattr(args, name))]
    try:
        inst = service_units.Install(Path(args.dir), Path(args.env_dir), args.unit_prefix, flags)
    except service_units.ServiceError as e:
        print(f"hunthub {args.command}: {e}")
        return 2
    if args.command == "install-service":
        return service_units.install_command(s, inst, args.enable)
    return service_units.step_command(s, inst, args.step)


def _backup_command(s: HuntHub, args) -> int:
    from hunthub import backup

    try:
        if args.command == "backup":
            print(f"hunthub backup of {s.state_dir}:")
            summary = backup.backup(s, Path(args.to).absolute() if args.to else None)
            print(f"written: {summary.archive} (mode 0600: it holds the hub's secrets)")
        else:
            print(f"hunthub restore into {s.state_dir}:")
            summary = backup.restore(s, Path(args.archive), force=args.force)
            print("restored; start the hub with `hunthub up`")
    except backup.BackupError as e:
        print(f"hunthub {args.command}: {e}")
        return 1
    print("Not in the archive (back these up or put them back yourself):")
    for what, where in summary.not_included.items():
        print(f"  {what}: {where}")
    return 0


def _count(text: str) -> int:
    try:
        return int(text.replace(",", "").replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None


def _generate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--events",
        type=_count,
        default=None,
        help="event rows over all event tables, at least 5,000; 10^4 to 10^8 is usual (default: demo_data_events)",
    )
    p.add_argument("--seed", type=_count, default=None, help="random seed: the same seed gives the same data")
    p.add_argument("--days", type=_count, default=None, help="days of data from 2026-11-02 (default 7)")
    p.add_argument("--out", help="directory for the tables (default: the warehouse, and register them there)")
    p.add_argument("--answer-key", help="where to write the answer key (default: <state dir>/answer-key.json, "
                   "or <out>/answer-key.json with --out)")  # fmt: skip
