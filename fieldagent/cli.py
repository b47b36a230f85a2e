"""The ``fieldagent`` command.

Results go to stdout (one JSON object per line), messages for people to stderr.
Exit codes are the same for every subcommand and printed by ``fieldagent --help``
(:data:`EXIT_CODES`). This module imports only the standard library and the light
``fieldagent`` modules at the top: each command imports what it needs, so ``--version``,
``--help`` and ``status`` never load numpy, scipy, scikit-image or ONNX Runtime.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from fieldagent import __version__
from fieldagent.errors import ConfigError, FieldAgentError
from fieldagent.inference.errors import ModelError

if TYPE_CHECKING:
    from fieldagent.config.site import SiteConfig

log = logging.getLogger("fieldagent")

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

EXIT_CODES = """exit codes (every command):
  0    done, nothing wrong
  1    the command ran and found problems or could not finish: check-config or policy
       check problems, model predict's unreadable images, a drain that left data
       behind, no outbox yet, an error while running ('process' reports a rejected
       image in its JSON line and still exits 0)
  2    usage: bad arguments, or a site config or model the command cannot start with
  130  interrupted (Ctrl-C)"""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not getattr(args, "func", None):  # a command group (or none) without its action
        getattr(args, "help_of", parser).print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except ConfigError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        print(f"{len(exc.problems)} problem(s); nothing was done.", file=sys.stderr)
        return EXIT_USAGE
    except ModelError as exc:  # the model cannot be loaded: the command cannot start
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except FieldAgentError as exc:  # anything else went wrong while the command ran
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fieldagent",
        description="Greenhouse camera images to quality flags, plant signals and alerts.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"fieldagent {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(metavar="COMMAND")

    proc = sub.add_parser(
        "process",
        help="analyse image files, one JSON line per image",
        description="Analyse images as one camera's sequence, in the order given (or each "
        "on its own with --independent).",
    )
    proc.add_argument("images", nargs="+", metavar="IMAGE", help="image files, oldest first")
    proc.add_argument(
        "--independent",
        action="store_true",
        help="unrelated photos: analyse each on its own, with no baseline, displacement or "
        "frozen-frame check carried from one image to the next",
    )
    proc.add_argument("--config", help="site config YAML (default: one camera, whole frame)")
    proc.add_argument("--camera", help="camera id in the config (default: the first camera)")
    proc.add_argument("--annotate", metavar="DIR", help="write overlay JPEGs and mask PNGs here")
    proc.add_argument(
        "--nir",
        action="append",
        default=[],
        metavar="IMAGE",
        help="registered NIR image for the IMAGE at the same position (repeat per image)",
    )
    proc.set_defaults(func=_cmd_process)

    chk = sub.add_parser(
        "check-config",
        help="validate site config files",
        description="Print every problem as 'file: key.path: value: what is wrong'.",
    )
    chk.add_argument("files", nargs="+", metavar="FILE")
    chk.add_argument("--file-only", action="store_true",
                     help="check the file and its policy only, not this machine's folders, "
                     "secrets and uplink (for a config written for another device)")
    chk.add_argument("--online", action="store_true",
                     help="also contact the uplink's S3 endpoint and check the bucket and "
                     "credentials (without it, nothing leaves this machine)")
    chk.add_argument("--explain", action="store_true",
                     help="also print the alert rules in force for each camera, and where "
                     "each comes from (built-in or the site's own)")
    chk.set_defaults(func=_cmd_check_config)

    conf = sub.add_parser("config", help="site config tools")
    conf_sub = conf.add_subparsers(metavar="ACTION")
    conf.set_defaults(help_of=conf)
    schema = conf_sub.add_parser(
        "schema", help="write the JSON Schema of site configs (or policies) for editors",
        description="Print a JSON Schema (draft 2020-12) of the site config, or of offload "
        "policies with --policy: point an editor's YAML language server at it for "
        "completion, descriptions and checks while typing.")
    schema.add_argument("--policy", action="store_true", help="the schema of policy files")
    schema.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    schema.set_defaults(func=_cmd_config_schema)

    pol = sub.add_parser("policy", help="offload policies")
    pol_sub = pol.add_subparsers(metavar="ACTION")
    pol.set_defaults(help_of=pol)
    pol_check = pol_sub.add_parser(
        "check",
        help="validate policy files",
        description="Print every problem as 'file: key.path: value: what is wrong'.",
    )
    pol_check.add_argument("files", nargs="+", metavar="FILE", help="policy YAML or built-in name")
    pol_check.set_defaults(func=_cmd_policy_check)

    box = sub.add_parser("outbox", help="inspect the outbox")
    box_sub = box.add_subparsers(metavar="ACTION")
    box.set_defaults(help_of=box)
    box_stats = box_sub.add_parser(
        "stats",
        help="items, bytes, ages, drops and drain estimate as JSON",
        description="Read the outbox read-only (safe while the agent runs) and print JSON.",
    )
    box_stats.add_argument("--config", required=True, help="site config YAML")
    box_stats.set_defaults(func=_cmd_outbox_stats)

    sig = sub.add_parser("signals", help="list every signal with its unit and method")
    sig.add_argument("--format", choices=("table", "json", "markdown"), default="table")
    sig.set_defaults(func=_cmd_signals)

    run = sub.add_parser(
        "run",
        help="run the agent as a service until SIGTERM/SIGINT",
        description="Watch the cameras, analyse, alert, upload; stop cleanly on SIGTERM.",
    )
    run.add_argument("--config", required=True, help="site config YAML")
    run.add_argument("--log-format", choices=("text", "json"), default="text",
                     help="plain text for a terminal, JSON lines for a log shipper (under "
                          "systemd the records go to the journal as entries: logging.target)")
    run.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    run.add_argument(
        "--drain", action="store_true",
        help="start, analyse every image waiting, close the open batch, upload what the "
        "policy allows now, deliver pending alerts, then stop (exit 0 when it is safe to "
        "cut the power, 1 when something is left; a running agent does the same on SIGUSR1)")
    run.add_argument("--drain-seconds", type=float, default=600.0, metavar="S",
                     help="give up draining after S seconds (default 600)")
    run.set_defaults(func=_cmd_run)

    st = sub.add_parser(
        "status",
        help="one screen: cameras, alerts, outbox, link, model",
        description="Read what the running agent keeps on disk and print a summary.",
    )
    st.add_argument("--config", required=True, help="site config YAML")
    st.add_argument("--json", action="store_true", help="print JSON instead of the screen")
    st.set_defaults(func=_cmd_status)

    mod = sub.add_parser("model", help="the on-device stress model")
    mod_sub = mod.add_subparsers(metavar="ACTION")
    mod.set_defaults(help_of=mod)
    mod_status = mod_sub.add_parser(
        "status", help="current, previous and trial models",
        description="Show the model store: the model running, the one before, any on trial.")
    mod_status.add_argument("--config", required=True, help="site config YAML")
    mod_status.add_argument("--json", action="store_true", help="print JSON")
    mod_status.set_defaults(func=_cmd_model_status)
    mod_predict = mod_sub.add_parser(
        "predict", help="the model's verdict on your photos, beside the colour signals",
        description="Run the stress model on image files (whole image, or each zone of a "
                    "site config's camera) and print what it and the colour signals say.")
    from fieldagent.modelupdate.predict_args import add_arguments as add_predict_arguments

    add_predict_arguments(mod_predict)
    mod_predict.set_defaults(func=_cmd_model_predict)

    demo = sub.add_parser(
        "demo",
        help="simulate a greenhouse and run the agent over it (offline)",
        description="Generate a simulated greenhouse day, analyse it, and summarise.",
    )
    from fieldagent.demo_args import add_arguments

    add_arguments(demo)
    demo.set_defaults(func=_cmd_demo)
    return p


def _site_config(path: str | None) -> SiteConfig:
    from fieldagent.config.site import default_site_config, load_site_config

    return load_site_config(path) if path else default_site_config()


def _cmd_process(args: argparse.Namespace) -> int:
    from fieldagent.annotate import write_annotations
    from fieldagent.inference.session import StressModel
    from fieldagent.pipeline import CameraPipeline

    site = _site_config(args.config)
    try:
        camera = site.camera(args.camera)
    except KeyError as exc:
        raise ConfigError(
            [f"{args.config or '(default config)'}: cameras: {exc.args[0]}"]
        ) from None
    if args.nir and len(args.nir) != len(args.images):
        print(
            f"--nir was given {len(args.nir)} times for {len(args.images)} images; "
            "give one NIR image per RGB image, in the same order",
            file=sys.stderr,
        )
        return 2
    model = StressModel.load(site.model)
    pipeline = CameraPipeline(site, camera, model)
    nirs: list[str | None] = list(args.nir) or [None] * len(args.images)
    for image, nir in zip(args.images, nirs, strict=True):
        if args.independent:  # a fresh camera memory per photo; the model is loaded once
            pipeline = CameraPipeline(site, camera, model)
        result = pipeline.process(image, nir_path=nir)
        if args.annotate:
            write_annotations(result, args.annotate)
        sys.stdout.write(json.dumps(result.to_dict(), separators=(",", ":")) + "\n")
        sys.stdout.flush()
        if result.status != "ok":
            log.warning("rejected %s: %s", image, result.message)
    return 0


def _cmd_check_config(args: argparse.Namespace) -> int:
    from pathlib import Path

    from fieldagent.config.preflight import preflight
    from fieldagent.config.site import load_site_config

    problems: list[str] = []
    for f in args.files:
        try:
            cfg = load_site_config(f)
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        found = [] if args.file_only else preflight(cfg, Path(f), online=args.online)
        if found:
            problems.extend(found)
            continue
        print(f"{f}: ok ({len(cfg.cameras)} camera(s), site {cfg.site.id})", file=sys.stderr)
        if args.explain:
            from fieldagent.alerts.explain import explain_rules

            print(explain_rules(cfg))
    for line in problems:
        print(line)
    return 1 if problems else 0


def _cmd_config_schema(args: argparse.Namespace) -> int:
    from pathlib import Path

    from fieldagent.config.loader import json_schema
    from fieldagent.config.site import SiteConfig

    if args.policy:
        from fieldagent.policy.model import Policy

        doc = json_schema(Policy)
        doc["title"] = "fieldagent offload policy"
    else:
        doc = json_schema(SiteConfig)
        doc["title"] = "fieldagent site config"
    doc["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    text = json.dumps(doc, indent=2, sort_keys=True) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _cmd_policy_check(args: argparse.Namespace) -> int:
    from fieldagent.policy import policy_check_main

    return policy_check_main(list(args.files))


def _cmd_outbox_stats(args: argparse.Namespace) -> int:
    from fieldagent.outbox_cli import outbox_stats_main

    return outbox_stats_main(args.config)


def _cmd_signals(args: argparse.Namespace) -> int:
    from fieldagent.signals.table import SIGNALS

    if args.format == "json":
        print(json.dumps([s.__dict__ for s in SIGNALS], indent=2))
    elif args.format == "markdown":
        print("| signal | unit | method |\n|---|---|---|")
        for s in SIGNALS:
            print(f"| `{s.name}` | {s.unit} | {s.method} |")
    else:
        width = max(len(s.name) for s in SIGNALS)
        for s in SIGNALS:
            print(f"{s.name:<{width}}  {s.unit:<10}  {s.method}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from fieldagent.config.preflight import preflight
    from fieldagent.config.site import load_site_config
    from fieldagent.service.logsetup import setup_logging
    from fieldagent.service.runner import run_service

    level = "DEBUG" if args.verbose else args.log_level
    setup_logging(args.log_format, level)  # stderr while the config is read
    site = load_site_config(args.config)
    setup_logging(args.log_format, level, site.logging, Path(args.config))
    problems = preflight(site, Path(args.config))
    if problems:  # the same checks as check-config: the two always agree
        raise ConfigError(problems)
    return run_service(site, Path(args.config),
                       drain_only=args.drain, drain_seconds=args.drain_seconds)


def _cmd_status(args: argparse.Namespace) -> int:
    from fieldagent.service.status import status_main

    return status_main(args.config, as_json=args.json)


def _cmd_model_status(args: argparse.Namespace) -> int:
    from fieldagent.modelupdate.cli import model_status_main

    argv = ["--config", args.config] + (["--json"] if args.json else [])
    return model_status_main(argv)


def _cmd_model_predict(args: argparse.Namespace) -> int:
    from fieldagent.modelupdate.predict import run

    return run(args)


def _cmd_demo(args: argparse.Namespace) -> int:
    from fieldagent.demo import run_demo

    return run_demo(args)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
